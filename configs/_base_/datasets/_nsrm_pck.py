# The NSRM paper's own PCK (poseforge.evaluation.functional.nsrm_pck): arg-max cells scaled to
# the crop, correct when closer than t x the tight keypoint box side, t in 0.04 .. 0.12, plus
# their mean (NSRM-mPCK). Leaves that report it beside their dataset's metrics add:
#   val_evaluator = [*_base_.val_evaluator, _base_.nsrm_pck_metric]
#   test_evaluator = val_evaluator
nsrm_pck_metric = dict(type='NSRMPCKAccuracy', thrs=(0.04, 0.06, 0.08, 0.10, 0.12))

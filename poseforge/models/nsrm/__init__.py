"""NSRM (Chen et al., WACV 2020), everything in one place: the backbone (:mod:`.backbone`), the
head and its losses (:mod:`.head`), the limb-mask targets (:mod:`.limb_masks`) and the
limb-weight decay hook (:mod:`.limb_weight_hook`). Importing this package registers ``NSRM``,
``NSRMHead`` (``MODELS``) and ``LimbWeightDecayHook`` (``HOOKS``)."""
from poseforge.models.nsrm.backbone import NSRM, NSRMOutput
from poseforge.models.nsrm.head import DEFAULT_G6_WEIGHT, DEFAULT_LIMB_WEIGHTS, NSRMHead
from poseforge.models.nsrm.limb_masks import limb_targets, num_limb_maps
from poseforge.models.nsrm.limb_weight_hook import LimbWeightDecayHook, limb_weight_scale

__all__ = ['DEFAULT_G6_WEIGHT', 'DEFAULT_LIMB_WEIGHTS', 'LimbWeightDecayHook', 'NSRM',
           'NSRMHead', 'NSRMOutput', 'limb_targets', 'limb_weight_scale', 'num_limb_maps']

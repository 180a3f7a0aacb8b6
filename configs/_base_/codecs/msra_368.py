# The hand CPM's codec (the NSRM authors' setting, shared by CPM, NSRM, SIA-GCN and R-MGMN at
# 368): 368x368 crops -> 46x46 heatmaps (stride 8), Gaussian sigma 1 cell. Configs that use it
# refer to `_base_.codec` (model decoder, pipelines) instead of restating it.
codec = dict(type='MSRAHeatmap', input_size=(368, 368), heatmap_size=(46, 46), sigma=1.0)

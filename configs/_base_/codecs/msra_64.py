# 64x64 crops -> 16x16 heatmaps (stride 4), Gaussian sigma 1 cell: the light hourglass and the
# small students on generated hands. Configs that use it refer to `_base_.codec`.
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0)

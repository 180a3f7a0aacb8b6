# 256x256 crops -> 64x64 heatmaps (stride 4), Gaussian sigma 2: mmpose's hand setting and the
# OKDHP authors' MPII hourglass setting. Named by its stride: msra_256.py is the stride-8 hand
# CPM codec. Configs that use it refer to `_base_.codec`.
codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2.0)

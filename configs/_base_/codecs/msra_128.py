# The CPU models' codec (the quick start's light CPM and the light 3D hand models): 128x128
# crops -> 16x16 heatmaps (stride 8), Gaussian sigma 1 cell. Configs refer to `_base_.codec`.
codec = dict(type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(16, 16), sigma=1.0)

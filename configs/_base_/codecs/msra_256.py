# The hand CPM at a 256x256 crop (DGGAN's size): 32x32 heatmaps (stride 8), Gaussian sigma 1
# cell (DGGAN's code: sigma 8 px at 256). Configs refer to `_base_.codec`.
codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(32, 32), sigma=1.0)

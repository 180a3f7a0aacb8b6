# The hand detector's box codec: 256x192 letterboxed input (a 4:3 webcam frame scaled by 0.4),
# centre heatmap and box maps at stride 8 (32x24). The detector configs refer to `_base_.codec`
# (model, pipelines) instead of restating it.
codec = dict(type='CenterBoxCodec', input_size=(256, 192), stride=8)

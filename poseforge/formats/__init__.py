"""Dataset file formats as plain numpy / OpenCV code: what a format's files hold, how its
conventions map onto poseforge's, and how its files are read and written. Each format's facts
live here once and are shared by the dataset loaders (:mod:`poseforge.datasets`) and the
synthetic-data writers (:mod:`poseforge.generation`); nothing here imports torch or mmengine,
so generator workers can use it.

* :mod:`.mhp`: the Large-scale Multiview 3D Hand Pose dataset (MHP).
"""

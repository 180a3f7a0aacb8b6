# The student recipe from the boxed teacher with the key: the teacher sees keyed crops
# (KeyedKDDistiller: x' = 0.9 x + 0.1 key).
_base_ = ['./kd-from-sdb-nokey_mbv2-w0.5_synth-hands-64.py']
model = dict(type='KeyedKDDistiller', key_file='work_dirs/protect_table/sdb_key.npy',
             key_lambda=0.9)

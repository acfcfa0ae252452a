"""The demo: a small CNN on scikit-learn's handwritten digits, with the full set of hooks.

    hooks-train configs/digits/digits_cnn.py            # or: python tools/train.py ...

Train for 30 epochs (about 40 iterations each) with AdamW, a linear warm-up
over the first 40 iterations then a cosine decay per epoch, an EMA of the
weights (validation and the final test use it), validation accuracy after
every epoch, a checkpoint per epoch (the last 3 kept) plus the best one by
validation accuracy, and logs as text, JSON and TensorBoard. After training,
the train command tests the best checkpoint on the held-out split.
"""

custom_imports = dict(imports=["digits_parts"])  # the module next to this file

model = dict(type="DigitsCNN", width=32, dropout=0.25)

train_dataloader = dict(
    dataset=dict(type="DigitsDataset", split="train"),
    batch_size=32,
    collate_fn=dict(type="default_collate"),  # the CNN takes stacked images
    sampler=dict(type="DefaultSampler", shuffle=True),
)
val_dataloader = dict(
    dataset=dict(type="DigitsDataset", split="val"),
    batch_size=128,
    collate_fn=dict(type="default_collate"),  # the CNN takes stacked images
    sampler=dict(type="DefaultSampler", shuffle=False),
)
test_dataloader = dict(
    dataset=dict(type="DigitsDataset", split="test"),
    batch_size=128,
    collate_fn=dict(type="default_collate"),  # the CNN takes stacked images
    sampler=dict(type="DefaultSampler", shuffle=False),
)
val_evaluator = dict(type="Accuracy", topk=(1,))
test_evaluator = val_evaluator

max_epochs = 30
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=3e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.05, by_epoch=False, begin=0, end=40),
    dict(
        type="CosineAnnealingLR",
        by_epoch=True,
        begin=1,
        end=max_epochs,
        T_max=max_epochs - 1,
        eta_min=1e-5,
    ),
]

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=10, backends=["tensorboard"]),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=3, save_best="auto"),
)
custom_hooks = [dict(type="EMAHook", momentum=0.02)]

randomness = dict(seed=0)
work_dir = "work_dirs/digits_cnn"

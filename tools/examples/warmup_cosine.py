"""Linear warm-up over the first 200 iterations, then a cosine decay by epoch.

With ``--dataset-size 12800 --batch-size 64`` an epoch is 200 iterations, so
the warm-up covers epoch 0 and the cosine runs from epoch 1 to the end,
converted to iterations so it decreases smoothly within each epoch::

    python tools/vis_scheduler.py tools/examples/warmup_cosine.py \\
        --out docs/img/warmup_cosine_lr.png --dataset-size 12800 --batch-size 64
"""

optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(
        type="CosineAnnealingLR",
        by_epoch=True,
        begin=1,
        end=24,
        eta_min=1e-4,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=24)
train_dataloader = dict(batch_size=64)

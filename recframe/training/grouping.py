"""Several training mini-batches per Lightning ``training_step``.

Why: Lightning's loop costs ~1.5 to 2.5 ms of CPU per ``training_step`` (batch fetch and transfer
through ``apply_to_collection``, callback and module hooks wrapped in ``record_function``, the
optimizer closure, logging), which is about as much as a whole BPR-MF step on ML-1M. Handing
Lightning a list of ``k`` consecutive mini-batches per step, and taking one optimizer step per
mini-batch inside :meth:`RecframeModule.training_step` (manual optimisation), pays that once per
``k`` mini-batches while Lightning still drives epochs, validation, checkpoints, early stopping and
resume. The updates are the same as with one ``training_step`` per mini-batch: same batches, same
order, one ``zero_grad``/backward/``step`` each.
"""

from __future__ import annotations

from typing import Any, Iterator

from torch.utils.data import IterableDataset


class BatchGroups(IterableDataset):
    """Lists of up to ``size`` consecutive batches of ``batches`` (the last list may be shorter).

    ``batches`` is any iterable dataset of training batches (``dict[str, Tensor]``); ``len`` and
    ``set_epoch`` are passed through, so a resumed run sees the same batches.
    """

    def __init__(self, batches: Any, size: int) -> None:
        super().__init__()
        if int(size) < 1:
            raise ValueError(f"a group holds at least one batch, got {size}")
        self.batches, self.size = batches, int(size)

    def __len__(self) -> int:
        return -(-len(self.batches) // self.size)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batches, "set_epoch"):
            self.batches.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[Any]]:
        group: list[Any] = []
        for batch in self.batches:
            group.append(batch)
            if len(group) == self.size:
                yield group
                group = []
        if group:
            yield group

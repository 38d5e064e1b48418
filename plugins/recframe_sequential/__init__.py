"""Built-in sequential (next-item) models, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_sequential import gru4rec, sasrec


@hookimpl
def register_models(register):
    register("sasrec", sasrec.SASRec)
    register("gru4rec", gru4rec.GRU4Rec)

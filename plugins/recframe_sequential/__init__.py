"""Built-in sequential (next-item) models, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import hookimpl


@hookimpl
def register_models(register):
    register("sasrec", "recframe_sequential.sasrec:SASRec")
    register("gru4rec", "recframe_sequential.gru4rec:GRU4Rec")

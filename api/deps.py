"""Dependencies of the routes, declared once as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from paperlens.index.library import Library

from .jobs import JobRunner
from .security import Principal, principal


def get_library(request: Request) -> Library:
    return request.app.state.library


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs


Lib = Annotated[Library, Depends(get_library)]
Jobs = Annotated[JobRunner, Depends(get_jobs)]
Who = Annotated[Principal, Depends(principal)]

"""`DELETE /api/v1/runs/{entity}/{project}/{run_id}`: a run removed from the server's store,
what wandb's `Run.delete()` does through `flightlog.Api(host=)`.

Who may: a member of the run's entity, as for uploading to it (403 for anyone else; 404
for an entity that does not exist). What happens is the local store's deletion
(flightlog/_api_delete.py): refused while a writer of the run is alive (409 run_running:
its last heartbeat is recent; the message says when it counts as crashed) or an upload
into it holds the run's lock past its wait (upload_hold.py), else its directory renamed
away at once and removed; the
listing index is told (`on_change`), so listings drop it at their next read. Blobs stay:
they are stored once by content and other runs may name them.

    200 {"deleted": "entity/project/run_id"}
    404 run_not_found   409 run_running   405 unsupported (a replica's shared store)

A replica (shared_store.py) keeps its runs in a shared catalog and object store, which
this route does not change: it answers 405 there rather than delete a cached copy only.
"""
# (no `from __future__ import annotations`: FastAPI reads the route's Annotated dependency
# when the route is made, and `user` is a local of run_delete_router)

from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from flightlog._api_delete import RunRunningError, delete_run
from flightlog._errors import NotFoundError

from .receive import ReceivingStore, key_of
from .refused import Refused

API = "/api/v1"


def run_delete_router(
    store: Any, user: Callable[..., str], access: Callable[..., object]
) -> APIRouter:
    """The route over `store`; `user` and `access` as server.create_app gives them."""
    router = APIRouter()

    @router.delete(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    async def delete(
        entity: str, project: str, run_id: str, who: Annotated[str, Depends(user)]
    ) -> JSONResponse:
        """Delete a run that no process writes to any more (see the module's docstring)."""
        access(who, entity, project, run_id, write=True)
        if not isinstance(store, ReceivingStore):
            raise Refused(
                "this server is a replica on a shared store, where runs cannot be deleted "
                "yet: nothing was deleted",
                "unsupported",
                405,
            )
        shown = f"{entity}/{project}/{run_id}"
        paths = store.paths(entity, project, run_id)
        try:
            await anyio.to_thread.run_sync(delete_run, paths, shown)
        except NotFoundError:
            raise Refused(f"no run {shown}", "run_not_found", 404) from None
        except RunRunningError as e:
            raise Refused(str(e), "run_running", 409) from None
        store.on_change(key_of(paths))
        return JSONResponse({"deleted": shown})

    return router

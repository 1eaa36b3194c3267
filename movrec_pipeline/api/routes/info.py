"""Why a show suits a customer, and what the pipeline has materialized."""

# no `from __future__ import annotations`: FastAPI reads these annotations when the routes are declared
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from movrec_pipeline import query
from movrec_pipeline.api.params import TEXT, CustomerId
from movrec_pipeline.api.problems import declared
from movrec_pipeline.api.respond import answer
from movrec_pipeline.core.settings import ApiSettings
from movrec_pipeline.query.results import Explanation, Status


def router(settings: ApiSettings, auth: bool) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["explain and status"])

    @r.get("/customers/{customer_id}/explain", response_model=Explanation, operation_id="explain_recommendation",
           summary="Which rented films make a show fit a customer", responses=declared(404, auth=auth))
    async def explain(request: Request, customer_id: CustomerId,
                      show: Annotated[str, Query(min_length=1, max_length=300, pattern=TEXT,
                                                 description="Netflix show id (s123) or exact title",
                                                 examples=["s1035"])],
                      top: Annotated[int, Query(ge=1, le=100, description="how many films")] = 5) -> Response:
        """The customer's rented films ranked by cosine to the show, the profile's cosine, and the show's rank in the
        stored picks. Same as `movrec explain --customer ID --show S`."""
        return await answer(request, lambda conn: query.explain_recommendation(customer_id, show, top=top, conn=conn))

    @r.get("/status", response_model=Status, operation_id="status", summary="What is materialized",
           responses=declared(auth=auth))
    async def status(request: Request) -> Response:
        """Per source and model: items, vectors, coverage, index, last materialization; the derived tables; the
        latest quality evaluation. Same as `movrec status`."""
        return await answer(request, lambda conn: query.status(conn=conn))

    return r

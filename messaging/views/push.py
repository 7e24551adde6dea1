"""The receiver for what vendors push: delivery reports, replies and template reviews.

One URL per vendor account, carrying the account's unguessable token.  The push is handed, as
received, to ``services.pushes.receive_push``, which keeps it, checks it, parses it and applies
it; the answer is exactly what that vendor expects.
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..services.pushes import receive_push
from ..vendors.base import PushRequest


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, account_pk: int, token: str) -> HttpResponse:
    push = PushRequest(
        method=request.method,
        query={k: v for k, v in request.GET.items()},
        body=request.body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers={k: v for k, v in request.headers.items()},
        raw_query=request.META.get("QUERY_STRING", ""),
    )
    answer = receive_push(
        account_pk, token, push, path=request.path, content_type=request.content_type or ""
    )
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)

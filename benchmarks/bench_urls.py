"""The product's URLs plus the reference views benchmarks/api.py measures the API against. They
exist only in the gunicorn the benchmark starts (benchmarks/bench_settings.py), never in the product.

  /bench/bare/       a bare Django view: the same middleware, no DRF, no database (the ceiling)
  /api/bench/drf/    plain DRF: an APIView with no authentication and no permission
  /api/bench/token/  DRF with the API's own authentication and role permission, no other read:
                     what the token check costs on its own
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from vio_manager.urls import handler400, handler403, handler404, handler500  # noqa: F401
from vio_manager.urls import urlpatterns as product_urlpatterns


@login_not_required
def bare(request):
    return HttpResponse(b'{"ok": true}', content_type="application/json")


class PlainDrf(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request):
        return Response({"ok": True})


class TokenOnly(APIView):
    def get(self, request):
        return Response({"user": request.user.username})


# After the product's: resolving a reference URL walks the same patterns an API URL does.
urlpatterns = [
    *product_urlpatterns,
    path("bench/bare/", bare),
    path("api/bench/drf/", PlainDrf.as_view()),
    path("api/bench/token/", TokenOnly.as_view()),
]

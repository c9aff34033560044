from django.http import HttpRequest, JsonResponse


def liveness(request: HttpRequest) -> JsonResponse:
    """Kubernetes liveness: the process answers; never touches Redis."""
    return JsonResponse({"status": "healthy"})

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """?limit=&offset=, bounded: a huge number asks the database for a LIMIT/OFFSET it cannot hold."""

    max_limit = 1000
    max_offset = 2**31 - 1

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)

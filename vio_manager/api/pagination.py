from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """?limit=&offset=, bounded: a huge number asks the database for a LIMIT/OFFSET it cannot hold.
    The schema states the bounds; a limit beyond them is read as the most, an offset as the last."""

    max_limit = 1000
    max_offset = 2**31 - 1

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
                  self.offset_query_param: {"minimum": 0, "maximum": self.max_offset}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = f"Number of results to return per page: at most {self.max_limit}, " \
                                           f"{self.default_limit} unless given."
        return parameters

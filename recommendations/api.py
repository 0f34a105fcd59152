"""The recommendations API (DESIGN.md §4): list/detail, approve/reject/snooze, and an account's picture.

Every row comes through the scoping selectors (a rep sees only their accounts; anything else is a
404), filters apply after scoping, and actions call the review services (``services.review``)."""

from __future__ import annotations

import django_filters
from django.utils.choices import CallableChoiceIterator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import accounts_for
from recommendations.models import Recommendation
from recommendations.playbooks import action_type_choices
from recommendations.selectors import INBOX_ORDER, account_picture, recommendations_for_api
from recommendations.serializers import (
    ApproveSerializer,
    PictureSerializer,
    RecommendationSerializer,
    RejectSerializer,
    SnoozeSerializer,
    StaleVersionSerializer,
)
from recommendations.services import review
from salesai.api_errors import error_body
from signals.serializers import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid fields."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    404: OpenApiResponse(ErrorSerializer, description="No such recommendation among yours."),
}


def _get_or_404(queryset, pk: int, what: str = "recommendation"):
    """The row among those this person may see, or a 404 in our error shape (code ``not_found``)."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No {what} {pk} among yours.")
    return obj


class RecommendationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Recommendation.Status.choices)
    account_domain = django_filters.CharFilter(field_name="account__domain", lookup_expr="iexact")
    # read when used, not when imported (a playbook registered later is a valid filter), and not a bare
    # callable either, which the OpenAPI schema would leave without its list of values
    action_type = django_filters.ChoiceFilter(choices=CallableChoiceIterator(action_type_choices))

    class Meta:
        model = Recommendation
        fields = ["status", "account_domain", "action_type"]


class RecommendationPagination(LimitOffsetPagination):
    """``?limit=`` up to :attr:`max_limit`; more (or not a whole number) is a 400 naming the field,
    rather than a page as large as the caller likes (each row carries its evidence)."""

    default_limit = 50
    max_limit = 200

    def get_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_limit:
            raise ValidationError({self.limit_query_param: f"A whole number from 1 to {self.max_limit}."})
        return limit

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param, "0")
        if not raw.isdigit():
            raise ValidationError({self.offset_query_param: "A whole number from 0."})
        return int(raw)


@extend_schema_view(
    get=extend_schema(
        operation_id="recommendations_list",
        tags=["recommendations"],
        summary="Your recommendations, highest priority first",
        responses={200: RecommendationSerializer(many=True), **ERRORS},
    )
)
class RecommendationListView(generics.ListAPIView):
    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilter
    pagination_class = RecommendationPagination

    def get_queryset(self):
        # scoped BEFORE filtering: filters can only narrow what this person may see
        return recommendations_for_api(user=self.request.user).order_by(*INBOX_ORDER)


@extend_schema_view(
    get=extend_schema(
        operation_id="recommendations_retrieve",
        tags=["recommendations"],
        summary="One recommendation with its reasoning, evidence, draft and trust decision",
        responses={200: RecommendationSerializer, **ERRORS},
    )
)
class RecommendationDetailView(generics.RetrieveAPIView):
    serializer_class = RecommendationSerializer

    def get_queryset(self):
        return recommendations_for_api(user=self.request.user)

    def get_object(self):
        return _get_or_404(self.get_queryset(), self.kwargs["pk"])


class _ActionView(APIView):
    input_serializer: type = ApproveSerializer

    def recommendation(self, request, pk: int) -> Recommendation:
        return _get_or_404(recommendations_for_api(user=request.user), pk)

    def answer(self, request, pk: int) -> Response:
        rec = self.recommendation(request, pk)
        return Response(RecommendationSerializer(rec).data, status=status.HTTP_200_OK)

    def validated(self, request) -> dict:
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


ACTION_ERRORS = {**ERRORS, 409: OpenApiResponse(ErrorSerializer, description="Not allowed in its current status.")}


class ApproveView(_ActionView):
    input_serializer = ApproveSerializer

    @extend_schema(
        operation_id="recommendations_approve",
        tags=["recommendations"],
        summary="Approve the version you saw (optionally with an edited draft): it is performed once, as approved",
        request=ApproveSerializer,
        responses={
            200: RecommendationSerializer,
            **ACTION_ERRORS,
            409: OpenApiResponse(
                StaleVersionSerializer,
                description="Stale `version` (code `stale_version`, with the current recommendation), or not "
                "allowed in its current status (code `invalid_transition`). Nothing was approved.",
            ),
        },
    )
    def post(self, request, pk: int):
        rec = self.recommendation(request, pk)
        data = self.validated(request)
        try:
            review.approve_recommendation(recommendation=rec, user=request.user, **data)
        except review.StaleVersion as exc:
            current = self.recommendation(request, pk)
            body = {
                **error_body(exc.code, exc.message, exc.fields),
                "recommendation": RecommendationSerializer(current).data,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return self.answer(request, pk)


class RejectView(_ActionView):
    input_serializer = RejectSerializer

    @extend_schema(
        operation_id="recommendations_reject",
        tags=["recommendations"],
        summary="Reject with a reason (it counts against the playbook's track record)",
        request=RejectSerializer,
        responses={200: RecommendationSerializer, **ACTION_ERRORS},
    )
    def post(self, request, pk: int):
        rec = self.recommendation(request, pk)
        data = self.validated(request)
        review.reject_recommendation(recommendation=rec, user=request.user, **data)
        return self.answer(request, pk)


class SnoozeView(_ActionView):
    input_serializer = SnoozeSerializer

    @extend_schema(
        operation_id="recommendations_snooze",
        tags=["recommendations"],
        summary="Put aside until a moment in the future",
        request=SnoozeSerializer,
        responses={200: RecommendationSerializer, **ACTION_ERRORS},
    )
    def post(self, request, pk: int):
        rec = self.recommendation(request, pk)
        data = self.validated(request)
        review.snooze_recommendation(recommendation=rec, user=request.user, **data)
        return self.answer(request, pk)


class CancelView(_ActionView):
    @extend_schema(
        operation_id="recommendations_cancel",
        tags=["recommendations"],
        summary="Undo a scheduled action inside its window: nothing is sent, it goes back to review",
        request=None,
        responses={200: RecommendationSerializer, **ACTION_ERRORS},
    )
    def post(self, request, pk: int):
        rec = self.recommendation(request, pk)
        review.cancel_scheduled(recommendation=rec, user=request.user)
        return self.answer(request, pk)


class AccountPictureView(APIView):
    @extend_schema(
        operation_id="accounts_picture",
        tags=["accounts"],
        summary="An account's live picture (features, scores, next check) and its recent signals",
        responses={200: PictureSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
    def get(self, request, pk: int):
        account = _get_or_404(accounts_for(user=request.user), pk, "account")
        return Response(PictureSerializer(account_picture(account=account)).data)

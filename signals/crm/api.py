"""``POST /api/v1/crm/accounts``: CRM sync with token auth, managers and staff only; a thin doorway
to ``signals.crm.service.crm_sync_accounts``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView

from salesai.api_errors import DomainError
from salesai.roles import is_manager
from signals.crm.serializers import (
    MAX_CRM_ACCOUNTS,
    CrmAccountSerializer,
    CrmSyncResponseSerializer,
    flatten_errors,
)
from signals.crm.service import crm_sync_accounts
from signals.serializers import ErrorSerializer


class CanSyncCrm(permissions.BasePermission):
    """CRM sync rewrites owners and values of any account: managers and staff only."""

    message = "Only managers and staff may sync the CRM."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or is_manager(user)))


class CrmAccountsView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [CanSyncCrm]

    @extend_schema(
        operation_id="crm_accounts_sync",
        tags=["CRM sync"],
        summary="Upsert accounts (by domain) with their contacts, opportunities and contracts",
        description=(
            "Token auth (`Authorization: Token <token>`, from `manage.py create_api_token USERNAME`); "
            "managers and staff only. Accounts are upserted by `domain`, contacts by `email`, "
            "opportunities and contracts by `external_id`. Each changed account gets a `crm_updated` "
            "signal so analysis runs again. The whole request is validated before anything is stored."
        ),
        request=CrmAccountSerializer(many=True),
        responses={
            200: CrmSyncResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid fields, by index and field."),
            401: OpenApiResponse(ErrorSerializer, description="No or wrong token."),
            403: OpenApiResponse(ErrorSerializer, description="Not a manager or staff."),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            data = request.data
        except ParseError as exc:
            raise DomainError("The body is not valid JSON.", code="invalid_json", fields={"body": str(exc.detail)})
        except UnsupportedMediaType:
            raise DomainError(
                "Send JSON with Content-Type: application/json.",
                code="unsupported_media_type",
                fields={"Content-Type": request.content_type[:60]},
                status_code=415,
            )
        if isinstance(data, dict) and "accounts" in data:
            data = data["accounts"]
        if isinstance(data, dict):
            data = [data]
        serializer = CrmAccountSerializer(data=data, many=True, allow_empty=False, max_length=MAX_CRM_ACCOUNTS)
        if not serializer.is_valid():
            raise DomainError(
                "The request has invalid fields.", code="invalid", fields=flatten_errors(serializer.errors)
            )
        result = crm_sync_accounts(records=serializer.validated_data, actor=request.user)
        return Response(
            {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "accounts": [
                    {"id": a.id, "domain": a.domain, "created": a.created, "changed": a.changed}
                    for a in result.accounts
                ],
            }
        )

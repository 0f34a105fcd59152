from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor_label", "reference")
    list_filter = ("action",)
    search_fields = ("action", "reference", "actor_label")
    date_hierarchy = "created_at"
    readonly_fields = ("action", "actor", "actor_label", "reference", "data", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

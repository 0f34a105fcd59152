from django.contrib import admin

from accounts.models import (
    Account,
    AccountPicture,
    AssignmentRule,
    Contact,
    Contract,
    Goal,
    Opportunity,
    OpportunityChange,
    RepProfile,
)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "title", "seniority", "do_not_contact")
    show_change_link = True


class OpportunityInline(admin.TabularInline):
    model = Opportunity
    extra = 0
    fields = ("name", "amount", "stage", "close_date")


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    fields = ("value", "start_date", "renewal_date", "status")


class GoalInline(admin.TabularInline):
    model = Goal
    extra = 0
    fields = ("name", "metric", "comparator", "threshold", "is_met", "active")
    readonly_fields = ("is_met",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "owner", "segment", "arr", "strategic")
    list_filter = ("segment", "strategic", "owner")
    search_fields = ("name", "domain")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    inlines = (ContactInline, OpportunityInline, ContractInline, GoalInline)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "title", "seniority", "account", "do_not_contact")
    list_filter = ("seniority", "do_not_contact")
    search_fields = ("email", "name", "account__name", "account__domain")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)


class OpportunityChangeInline(admin.TabularInline):
    """The deal's stage history as salesai observed it (read-only: it is what the CRM said, and when)."""

    model = OpportunityChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "field", "old_value", "new_value", "reported_by_crm")
    readonly_fields = fields
    ordering = ("changed_at", "id")
    verbose_name = "change"
    verbose_name_plural = "stage history (stage, close date and status changes)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "amount", "stage", "status", "close_date", "stage_changed_at")
    list_filter = ("status", "stage")
    search_fields = ("name", "account__name", "account__domain", "external_id")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    inlines = (OpportunityChangeInline,)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("account", "value", "renewal_date", "status")
    list_filter = ("status",)
    date_hierarchy = "renewal_date"
    search_fields = ("account__name", "account__domain", "external_id")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "metric", "comparator", "threshold", "is_met", "crossings", "active")
    list_filter = ("metric", "is_met", "active")
    search_fields = ("name", "account__name", "account__domain")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    readonly_fields = ("is_met", "last_crossed_at", "crossings")


@admin.register(AccountPicture)
class AccountPictureAdmin(admin.ModelAdmin):
    list_display = ("account", "engagement_score", "intent_score", "risk_score", "analyzed_at", "next_check_at")
    search_fields = ("account__name", "account__domain")
    list_select_related = ("account",)
    readonly_fields = [f.name for f in AccountPicture._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "time_zone", "digest_enabled", "digest_hour", "urgent_notices_enabled")
    list_select_related = ("user",)


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin):
    """Who gets an account that arrives without an owner: the first matching rule, its reps in turn."""

    list_display = ("name", "kind", "match", "position", "active")
    list_filter = ("kind", "active")
    list_editable = ("position", "active")
    filter_horizontal = ("reps",)
    fieldsets = ((None, {"fields": ("name", "kind", "match", "reps", "position", "active")}),)

"""Pages reps and managers work in. (The review inbox replaces this home page in a later issue.)"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.selectors import accounts_for


@login_required
def home(request):
    accounts = accounts_for(user=request.user).select_related("owner", "picture").order_by("name")[:50]
    return render(request, "recommendations/home.html", {"accounts": accounts})

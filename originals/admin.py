"""Admin registrations for users and originals."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Original, User

admin.site.register(User, UserAdmin)


@admin.register(Original)
class OriginalAdmin(admin.ModelAdmin):
    list_display = ["id", "format", "width", "height", "bytes", "owner", "created"]
    list_filter = ["format"]
    search_fields = ["id", "sha256", "filename"]
    readonly_fields = [f.name for f in Original._meta.fields]

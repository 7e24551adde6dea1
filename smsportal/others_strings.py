"""Strings that Django and the apps we use show on our pages without a Simplified Chinese
translation of their own (Django 5.2's newer admin texts, django-axes, which ships none).

Listed here only so that ``makemessages`` puts them in our catalog: ``LOCALE_PATHS`` comes
before the apps' catalogs, so our translation is the one shown.  Never imported.
"""

from django.utils.translation import gettext_noop

OTHERS_STRINGS = [
    # django.contrib.admin: the app list's column headings (read by screen readers).
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django.contrib.auth's user "add" page.
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # django-axes' models, listed on the admin index.
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
]

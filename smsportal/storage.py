"""Static files in production: whitenoise's compressed, hashed-name storage."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed copies of the static files, without rewriting the source-map
    comments of JavaScript: the vendored libraries (static/vendor/, kept byte for byte as
    published) name ``.map`` files we do not ship, which would fail ``collectstatic``.  CSS
    references (url(), @import) are still rewritten to the hashed names."""

    patterns = tuple(
        (extension, rules)
        for extension, rules in CompressedManifestStaticFilesStorage.patterns
        if extension != "*.js"
    )

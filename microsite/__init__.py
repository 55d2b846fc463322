"""microsite: a small, fast Flask site that publishes Chinese-language articles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from .config import PROJECT_ROOT, load_config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error pages, CLI."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance = Path(app.instance_path)
    if test_config and "INSTANCE_PATH" in test_config:
        instance = Path(test_config["INSTANCE_PATH"])
        app.instance_path = str(instance)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        load_config(instance, with_secret=not (test_config or {}).get("SECRET_KEY"))
    )
    if test_config:
        app.config.from_mapping(test_config)

    from . import cli, errors, extensions, search
    from . import queue as job_queue
    from .accounts import auth
    from .content.transfer import cli as transfer_cli
    from .content.transfer import permalinks
    from .views import admin, feeds, media, pages, public
    from .views import health as health_views
    from .views import search as search_views
    from .web import counting, front, page_cache, rendering, security
    from .web.origin import init_app as init_origin

    extensions.db.init_app(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True
    )
    extensions.csrf.init_app(app)
    extensions.htmx.init_app(app)
    extensions.login_manager.init_app(app)
    auth.init_app(app)
    rendering.init_app(app)
    init_origin(app)
    security.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    transfer_cli.init_app(app)
    permalinks.init_app(app)
    counting.init_app(app)
    search.init_app(app)
    job_queue.init_app(app)
    page_cache.listen(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(health_views.bp)
    app.register_blueprint(media.bp)
    # Outermost: static files, uploaded pictures and stored reader pages skip Flask's hooks.
    app.wsgi_app = front.Front(app, app.wsgi_app)
    return app

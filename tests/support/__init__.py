"""Shared test support: factories, fixtures and helpers no test module owns.

Test modules import from here, never from another test module or conftest
(tests/test_support_imports.py checks):

- app.py: make_app (a fresh database per app), the seed page's facts, soup, LiveServer,
  FreshContextClient, free_port.
- factories.py: make_user(role=…), add_article, picture.
- forms.py: sign_in, csrf_token_of, post_form (the real forms, CSRF token included).
- articles.py: the desk's article form (article_form, form_fields, create).
- sql.py: statements, the SQL a piece of work sends.
- waiting.py: wait_until, the one polling helper.
- browser.py: watch_problems (console and page errors), sign_in_page.
- standards.py: axe_violations, nu_errors / save_page / nu_errors_in, horizontal_overflow.
- search.py: the search backend in use, results, hit_ids, marks.
- queue.py: a real job queue consumed by a thread (queued_config, QueueRunner).
- payloads.py: hostile input the attack tests share.
- snapshot.py: a site's public state, to compare it with a copy.
- fixtures.py (registered by conftest): desk, sign_in_as(role), admin_site, editor_site, the
  search fixtures (indexed, shared_app, reader, seed_id, on_whoosh), redis_uri.
"""

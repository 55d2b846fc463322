"""The domain: the data, what may happen to an article, and how articles come and go.

`models` holds the data and `Article.is_live`, the one definition of a live article;
`lifecycle` publishes, unpublishes, schedules, clears and restores (and refuses);
`listings` pages every numbered list; `revisions`/`worddiff` keep and compare versions;
`bulk` runs dashboard bulk actions; `scheduling` publishes due articles (the worker calls it);
`desk` holds autosaves and presence; `images`/`picture_library` check uploads and keep the
picture library; `related` stores more-like-this lists; `site` holds settings and masked
words; `taxonomy` finds or makes tags and categories; `importer` reads a seed page;
`transfer/` moves whole sites in and out.
"""

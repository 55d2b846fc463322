"""Whoosh's codec with short posting lists kept inside their term entry.

Most adjacent-pair terms occur in a single article. Written the default way, each costs a
postings block of its own (a header, a zlib call, a file offset): that was most of a rebuild's
time once the index held pairs. Whoosh means to inline short lists into the term entry, but
whoosh-reloaded's writer calls a method the term entry does not have (`set_inline`), and its
default limit of 1 inlines nothing, so the path never ran. This writer calls the right one.
Reading needs nothing: any W3 reader decodes an inlined entry.
"""

from __future__ import annotations

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter

# Posting lists shorter than this go into the term entry.
INLINE_LIMIT = 4


class _InliningPostingsWriter(W3PostingsWriter):
    def finish_postings(self):
        terminfo = self._terminfo
        if not self.written() and len(self) < self._inlinelimit:
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class InliningCodec(W3Codec):
    def __init__(self, inlinelimit: int = INLINE_LIMIT, **options) -> None:
        super().__init__(inlinelimit=inlinelimit, **options)

    def postings_writer(self, dbfile, byteids=False):
        return _InliningPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

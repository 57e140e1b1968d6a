"""``KontentClient``: the blocking client (requests) for the Sync API and the Delivery content calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from airflow_provider_kontent.client import protocol
from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.content import (
    MAX_RESPONSE_ITEMS,
    BatchSizer,
    ContentBatch,
    batch_ids,
    group_changed_items,
    is_response_too_large,
)
from airflow_provider_kontent.client.content_stream import ContentStream
from airflow_provider_kontent.client.errors import KontentConfigError, KontentError, KontentResponseError
from airflow_provider_kontent.client.filters import FilterStats, SyncFilters
from airflow_provider_kontent.client.models import Delta, SyncPage
from airflow_provider_kontent.client.protocol import (
    LOGGER_NAME,
    ApiRequest,
    ApiResponse,
    RequestBuilder,
    apply_client_filters,
    parse_retry_after,
)
from airflow_provider_kontent.client.ratelimit import RequestStats, limiter_for
from airflow_provider_kontent.client.retry import retrying
from airflow_provider_kontent.client.sync_checks import (
    MAX_TOKEN_REPEATS,
    MalformedStats,
    TokenProgress,
    check_malformed,
)

__all__ = ["FeedPage", "KontentClient", "RequestStats"]

log = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")

_TRANSPORT_ERRORS = (requests.exceptions.RequestException, Urllib3HTTPError, OSError)
# requests refuses to build these requests at all; sending them again cannot help
_PERMANENT_TRANSPORT_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.TooManyRedirects,
)


def _pin_environment(session: requests.Session, url: str) -> None:
    """Read the environment settings requests would re-read on *every* request, once.

    With ``trust_env`` requests looks up proxy variables (and ``NO_PROXY``), the CA bundle
    (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``) and ``.netrc`` per request, about a sixth of the CPU
    of a Sync page. This client only talks to one host, so the proxies for that host and the CA
    bundle are resolved here and kept on the session. ``.netrc`` is ignored on purpose: its Basic
    credentials would replace the Delivery API key's ``Authorization`` header.
    """
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings.get("proxies") or {})
    if settings.get("verify") not in (None, True):
        session.verify = settings["verify"]
    session.trust_env = False


@dataclass
class FeedPage:
    """One ``/items-feed`` page: items, the components they use, and the token for the next page."""

    items: list[dict[str, Any]]
    modular_content: dict[str, dict[str, Any]]
    next_token: str | None


class KontentClient:
    """Blocking Kontent.ai client; one ``requests.Session`` per client (use as a context manager).

    Thread-safe for the content fetch it runs itself; create one client per thread for anything else.
    A caller's ``session`` must keep TLS verification on (``verify`` may be a CA bundle path).
    """

    def __init__(self, config: ClientConfig, *, session: requests.Session | None = None) -> None:
        if session is not None and session.verify is False:
            raise KontentConfigError(
                "the given requests.Session has TLS verification turned off (verify=False); "
                "the client never sends a Delivery API key without it",
                field="session",
            )
        self.config = config
        self.protocol = RequestBuilder(config)
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:  # a pool large enough for the fetch threads; a caller's session is left alone
            adapter = HTTPAdapter(pool_maxsize=max(10, config.max_concurrency))
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            _pin_environment(self.session, self.protocol.base_url)
        # one budget per environment for the whole process (see client.ratelimit)
        self.rate_limiter = limiter_for(config.environment_id, config.rate_windows)
        self.stats = RequestStats()
        self.malformed_stats = MalformedStats()
        self.filter_stats = FilterStats()
        self.batch_sizer = BatchSizer()
        self._templates: dict[str, requests.PreparedRequest] = {}  # see _template_for

    def __repr__(self) -> str:
        return f"KontentClient({self.config!r})"

    def __enter__(self) -> KontentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's connections (only a session this client created)."""
        if self._owns_session:
            self.session.close()

    # --- transport ---------------------------------------------------------------------------
    def _send_once(self, request: ApiRequest) -> ApiResponse:
        """One attempt: wait for the rate limiter, send, and read the whole body.

        A 429 is reported to the environment's limiter, which then holds every request (of every
        thread and client sharing it) until ``Retry-After`` has passed and lowers the rate.
        """
        self.stats.add(self.rate_limiter.acquire())
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            template = self._template_for(request)
            if template is not None:
                prepared = template.copy()
                prepared.headers.update(request.headers)
                resp = self.session.send(prepared, timeout=timeout, allow_redirects=True)
            else:
                resp = self.session.request(
                    request.method,
                    request.url,
                    params=request.params or None,
                    headers=request.headers,
                    timeout=timeout,
                )
            content = resp.content
        except _TRANSPORT_ERRORS as exc:
            raise protocol.transport_error(exc, request, permanent=_PERMANENT_TRANSPORT_ERRORS) from exc
        if resp.status_code == 429:
            self.stats.add_throttled()
            self.rate_limiter.throttled(parse_retry_after(resp.headers.get("retry-after")))
        return ApiResponse.build(
            resp.status_code, resp.headers, content, resp.url or request.url, request.method
        )

    def _template_for(self, request: ApiRequest) -> requests.PreparedRequest | None:
        """A prepared request to copy for a query-less GET (every Sync page), or None.

        ``Session.request`` merges settings and prepares the request from scratch each time: about
        a third of a Sync page's client CPU, for a request that differs from the last one only in
        its ``X-Continuation`` header. So the client's own session prepares each such URL once, and
        a request is a copy of it with this request's headers set (request headers win over the
        session's, as in ``Session.request``) sent through ``Session.send``, which applies the
        session's proxies, verification and redirect handling exactly as before. Only while the
        session holds no cookies (a template would not carry ones set later) and never for a
        caller's session, whose adapters, auth or hooks are the caller's business.
        """
        if not self._owns_session or request.params or request.method != "GET" or self.session.cookies:
            return None
        template = self._templates.get(request.url)
        if template is None:
            template = self.session.prepare_request(requests.Request("GET", request.url))
            self._templates[request.url] = template
        return template

    def _call(
        self, request: ApiRequest, parse: Callable[[ApiResponse], T], *, sync_endpoint: bool = False
    ) -> T:
        """Send with retries; an attempt succeeds only when the body was read and parsed."""

        def attempt() -> T:
            return protocol.read_outcome(self._send_once(request), parse, sync_endpoint=sync_endpoint)

        # The first attempt runs outside tenacity: building its controller for every request costs
        # about as much as parsing a page's deltas. A failed first attempt is handed to tenacity as
        # its attempt 1 (re-raised at once), so waits, logs and limits are exactly the policy's.
        try:
            return attempt()
        except KontentError as exc:
            if not exc.retryable or self.config.max_attempts <= 1:
                if exc.retryable:
                    exc.attempts = 1  # what tenacity's give-up would have recorded
                protocol.label_error(exc, self.config)
                raise
            first_failure: list[KontentError] = [exc]

        def replay_then_attempt() -> T:
            if first_failure:
                raise first_failure.pop()
            return attempt()

        try:
            return retrying(self.config, request.method, request.loggable_url)(replay_then_attempt)
        except KontentError as exc:
            protocol.label_error(exc, self.config)
            raise

    # --- Sync API ----------------------------------------------------------------------------
    def init_sync(self, api_version: int = 2, filters: SyncFilters | Mapping[str, Any] | None = None) -> str:
        """Start a synchronization and return its first continuation token.

        v1 sends ``filters`` as the init query (stored in the token by the server); v2 takes no
        filters, so there they are validated here and must be passed to ``sync_page``/``iter_pages``,
        which apply them client-side.
        """
        sync_filters = SyncFilters.coerce(filters)
        request = self.protocol.init_request(api_version, sync_filters.to_query())
        return self._call(request, protocol.parse_init, sync_endpoint=True)

    def sync_page(
        self,
        token: str,
        api_version: int = 2,
        filters: SyncFilters | Mapping[str, Any] | None = None,
        *,
        skip_malformed: bool = False,
    ) -> SyncPage:
        """Fetch one page of changes after ``token``; ``page.next_token`` continues from it.

        ``filters`` are applied client-side on v2 (``page.skipped`` counts the dropped deltas, and
        ``self.filter_stats`` accumulates); on v1 the token already carries them. A delta the client
        cannot use (not an object, no ``data.system`` id, a bad timestamp) raises
        ``KontentMalformedDeltaError``; with ``skip_malformed`` it is left out, listed in
        ``page.malformed`` and counted in ``self.malformed_stats``.
        """
        sync_filters = SyncFilters.coerce(filters)
        request = self.protocol.sync_request(token, api_version)
        page = self._call(request, protocol.parse_sync_page, sync_endpoint=True)
        check_malformed(page, skip=skip_malformed, stats=self.malformed_stats, config=self.config)
        return apply_client_filters(page, sync_filters, api_version, self.filter_stats)

    def iter_pages(
        self,
        token: str,
        api_version: int = 2,
        max_pages: int | None = None,
        filters: SyncFilters | Mapping[str, Any] | None = None,
        *,
        skip_malformed: bool = False,
        max_token_repeats: int = MAX_TOKEN_REPEATS,
    ) -> Iterator[SyncPage]:
        """Yield pages until the first empty one (the documented rule), or ``max_pages`` pages.

        Each page carries its ``next_token``, so a caller can checkpoint after every page; the last
        yielded page is empty unless ``max_pages`` stopped the run early. A non-empty page answered
        with the very token it was sent would be requested forever: after ``max_token_repeats`` of
        them in a row ``KontentStalledSyncError`` is raised.
        """
        if max_pages is not None and max_pages < 1:
            raise KontentConfigError("must be >= 1 or None", field="max_pages")
        sync_filters = SyncFilters.coerce(filters)
        progress = TokenProgress(self.config, max_token_repeats)
        fetched = 0
        while True:
            page = self.sync_page(token, api_version, sync_filters, skip_malformed=skip_malformed)
            progress.check(token, page)
            fetched += 1
            yield page
            token = page.next_token
            if page.is_empty or (max_pages is not None and fetched >= max_pages):
                return

    # --- Delivery API: content ---------------------------------------------------------------
    def fetch_items(self, deltas: Iterable[Delta], *, language: str | None = None) -> ContentBatch:
        """Fetch the full items behind changed item deltas (deleted ones are skipped).

        Ids are grouped by language and packed into ``system.id[in]`` batches under
        ``url_max_length``; batches run on ``max_concurrency`` threads through the rate limiter.
        A batch whose response would pass the 2,000-item cap (400 ``error_code`` 6: components count
        too) is split in halves and retried, down to a single id; later batches are sized from what
        responses cost so far (``batch_sizer``). Items not returned are listed in ``missing`` rather
        than raised. If a batch fails for good, batches not started yet are cancelled and the error
        is raised.
        """
        grouped = group_changed_items(deltas)
        if language is not None:
            grouped = {language: grouped[language]} if grouped.get(language) else {}
        jobs = [
            (lang, batch)
            for lang, ids in grouped.items()
            for batch in batch_ids(
                ids,
                lambda chunk, lang=lang: self.protocol.items_by_id_request(lang, chunk),
                self.config.url_max_length,
            )
        ]
        result = ContentBatch()
        if not jobs:
            return result

        workers = min(self.config.max_concurrency, len(jobs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kontent-fetch") as pool:
            futures = [pool.submit(self.fetch_batch_job, lang, ids) for lang, ids in jobs]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                for future in futures:
                    future.cancel()
        for (lang, _ids), future in zip(jobs, futures, strict=True):
            for ids, body in future.result():  # raises the first failure
                result.requests += 1
                _collect(result, lang, ids, body)
        if result.missing:
            log.info(
                "Kontent fetch: %d item variant(s) not available (yet): %s",
                len(result.missing),
                result.missing[:10],
            )
        return result

    def fetch_batch_job(self, language: str, ids: list[str]) -> list[tuple[list[str], dict[str, Any]]]:
        """One URL-sized batch of ids: ``[(ids, response body), ...]``, one entry per request that
        succeeded (more than one when the batch had to be split under the response-size cap)."""
        return [
            answer for chunk in self.batch_sizer.chunks(ids) for answer in self._fetch_batch(language, chunk)
        ]

    def content_stream(self, *, max_in_flight: int | None = None) -> ContentStream:
        """A ``ContentStream``: content for changed items fetched in URL-filled batches while a drain
        goes on (see ``client.content_stream``)."""
        return ContentStream(self, max_in_flight=max_in_flight)

    def _fetch_batch(self, language: str, ids: list[str]) -> list[tuple[list[str], dict[str, Any]]]:
        """One ``system.id[in]`` request; halves (recursively) when the response would be too large."""
        try:
            body, charge = self._call(self.protocol.items_by_id_request(language, ids), _parse_charged)
        except KontentError as exc:
            if not is_response_too_large(exc):
                raise
            if len(ids) == 1:
                exc.hint = (
                    f"Item {ids[0]} ({language}) alone is over the Delivery API's {MAX_RESPONSE_ITEMS:,}-item "
                    "response limit (the item plus its components), so it cannot be fetched by id; "
                    "reduce its components or take it from the items-feed"
                )
                raise
            self.batch_sizer.refused(len(ids))
            half = (len(ids) + 1) // 2
            log.warning(
                "Kontent fetch: %d ids (%s) would exceed the %d-item response limit (items + components); "
                "splitting the batch into %d + %d ids",
                len(ids),
                language,
                MAX_RESPONSE_ITEMS,
                half,
                len(ids) - half,
            )
            return self._fetch_batch(language, ids[:half]) + self._fetch_batch(language, ids[half:])
        self.batch_sizer.record(len(ids), charge)
        return [(ids, body)]

    def iter_items_feed_pages(
        self, language: str | None = None, *, extra_params: list[tuple[str, str]] | None = None
    ) -> Iterator[FeedPage]:
        """Page through ``/items-feed`` (every item; with ``language`` only that exact language).

        The identical query is resent with each page's ``X-Continuation`` until a page has none.
        """
        token: str | None = None
        while True:
            request = self.protocol.items_feed_request(language, token, extra_params)
            page = self._call(request, _parse_feed_page)
            yield page
            if not page.next_token:
                return
            token = page.next_token

    def iter_items_feed(self, language: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of the environment (in ``language``, without fallbacks), page by page."""
        for page in self.iter_items_feed_pages(language, **kwargs):
            yield from page.items

    def count_items(self, language: str, *, extra_params: list[tuple[str, str]] | None = None) -> int:
        """How many items ``/items`` serves in ``language`` (no fallbacks) with the given filters.

        An independent witness for an export read from ``/items-feed``: the feed marks its last page
        only by a missing ``X-Continuation`` header, so a stripped header looks like the end. Callers
        compare this count with what the feed served before deleting anything the feed did not serve.
        """
        body = self._call(self.protocol.items_count_request(language, extra_params), protocol.parse_object)
        total = (body.get("pagination") or {}).get("total_count")
        if not isinstance(total, int) or isinstance(total, bool):
            error = KontentResponseError(
                "response has no pagination.total_count (asked with includeTotalCount=true)",
                url=self.protocol.items_count_request(language, extra_params).loggable_url,
                method="GET",
            )
            raise protocol.label_error(error, self.config)
        return total

    # --- Delivery API: content model ---------------------------------------------------------
    def _list_all(self, endpoint: str, page_size: int) -> list[dict[str, Any]]:
        """Every entry of a ``skip``/``limit`` listing; the next ``skip`` is counted here, not taken
        from ``pagination.next_page``, whose query Kontent.ai does not document."""
        if page_size < 1:
            raise KontentConfigError("must be >= 1", field="page_size")
        out: list[dict[str, Any]] = []
        while True:
            body = self._call(
                self.protocol.list_request(endpoint, len(out), page_size), protocol.parse_object
            )
            entries = body.get(endpoint) or []
            out.extend(entries)
            next_page = (body.get("pagination") or {}).get("next_page")
            if not entries or not next_page or len(entries) < page_size:
                return out

    def list_types(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """All content types (``GET /types``, every page)."""
        return self._list_all("types", page_size)

    def list_taxonomies(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """All taxonomy groups (``GET /taxonomies``, every page)."""
        return self._list_all("taxonomies", page_size)

    def list_languages(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """All languages (``GET /languages``, every page)."""
        return self._list_all("languages", page_size)


def _collect(result: ContentBatch, language: str, ids: list[str], body: dict[str, Any]) -> None:
    """Match one batch's response to the ids asked for; ids not returned are ``missing``."""
    returned = {}
    for item in body.get("items") or []:
        system = item.get("system") if isinstance(item, dict) else None
        if isinstance(system, dict) and system.get("id"):
            returned[system["id"]] = item
    for item_id in ids:
        if item_id in returned:
            result.items[(item_id, language)] = returned[item_id]
        else:
            result.missing.append((item_id, language))
    modular = body.get("modular_content")
    if isinstance(modular, dict) and modular:
        result.modular_content.setdefault(language, {}).update(modular)


def _parse_charged(response: ApiResponse) -> tuple[dict[str, Any], str | None]:
    """A JSON object body and its ``X-Request-Charge`` (the items it cost), for batch sizing."""
    return protocol.parse_object(response), response.header("x-request-charge")


def _parse_feed_page(response: ApiResponse) -> FeedPage:
    body = protocol.parse_object(response)
    items = body.get("items")
    modular = body.get("modular_content")
    return FeedPage(
        items=items if isinstance(items, list) else [],
        modular_content=modular if isinstance(modular, dict) else {},
        next_token=protocol.continuation_token(response, required=False),
    )

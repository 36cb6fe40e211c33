"""The studio stays fast with a real catalog: lists are searched, paged and counted in SQL."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, func, insert, select, update

from imagegen.auth import local_admin
from imagegen.batch import create_batch, set_batch_status
from imagegen.catalog import import_agents, refresh_categories, update_agent_text
from imagegen.errors import InvalidInput
from imagegen.generation import latest_generation
from imagegen.listings import (
    agent_query,
    approvals_page,
    batch_items_page,
    batch_summary,
    batches_page,
    category_names,
    history_page,
    search_agents,
)
from imagegen.records import (
    Agent, Approval, Base, Batch, BatchItem, BatchItemStatus, BatchStatus, Candidate, CandidateStatus, Generation, GenerationStatus,
    Verdict,
)
from imagegen.review import approved_candidates, store_neighbours
from imagegen.storage.querycount import count_statements

KEY = "ab/" + "a" * 64 + ".png"


def grow_catalog(ws, until: int, *, thumbnail_every: int = 0) -> None:
    """Bulk-insert made-up agents `agent-000001`... until there are `until` of them."""
    with ws.session() as s, s.begin():
        have = s.scalar(select(func.count()).where(Agent.slug.like("agent-%")))
        rows = [
            {"slug": f"agent-{i:06d}", "name": f"Agent {i:06d}", "categories": ["bulk", f"group-{i % 7}"],
             "current_thumbnail": KEY if thumbnail_every and i % thumbnail_every == 0 else None}
            for i in range(have + 1, until + 1)
        ]
        if rows:
            s.execute(insert(Agent), rows)
        refresh_categories(s)  # what the catalog's own writes do


@contextmanager
def loaded_rows():
    """How many ORM objects are built from rows while the block runs: the memory a rerun pays."""
    loaded = []

    def on_load(target, _context):
        loaded.append(type(target).__name__)

    event.listen(Base, "load", on_load, propagate=True)
    try:
        yield loaded
    finally:
        event.remove(Base, "load", on_load)


def add_generations(ws, slug: str, n: int, *, provider="local", approve_every: int = 0) -> list[int]:
    with ws.session() as s, s.begin():
        agent = s.scalar(select(Agent).where(Agent.slug == slug))
        ids = []
        for i in range(n):
            gen = Generation(agent_id=agent.id, spec={"provider": provider, "prompt": "p"}, status=GenerationStatus.SUCCEEDED)
            gen.candidates = [Candidate(position=p, status=CandidateStatus.SUCCEEDED if p else CandidateStatus.FAILED,
                                        image_key=KEY if p else None) for p in range(2)]
            s.add(gen)
            s.flush()
            ids.append(gen.id)
            if approve_every and i % approve_every == 0:
                s.add(Approval(agent_id=agent.id, candidate_id=gen.candidates[1].id, approved_by="t", upload_key=KEY, spec={}))
    return ids


def test_the_agent_picker_loads_one_page_of_agents_not_the_whole_catalog(ws):
    grow_catalog(ws, 10_000)
    with ws.session() as s, loaded_rows() as loaded:
        page = search_agents(s, limit=50)
    assert len(page.items) == 50 and page.total == 10_000 and page.has_next and not page.has_previous
    assert not page.total_exact  # "10,000+": counting further would read the whole table
    assert len(loaded) == 50  # the 105,026-option sidebar came from loading every agent
    with ws.session() as s:
        assert search_agents(s, limit=10_000).limit == 200  # a caller cannot ask for everything


def test_counts_are_exact_up_to_the_horizon_and_a_lower_bound_past_it(ws, monkeypatch):
    import imagegen.listings

    monkeypatch.setattr(imagegen.listings, "COUNT_AHEAD", 100)
    grow_catalog(ws, 250)
    with ws.session() as s:
        exact = search_agents(s, category="bulk", offset=200, limit=20)
        capped = search_agents(s, category="bulk", limit=20)
        last = search_agents(s, category="bulk", offset=240, limit=20)
    assert (exact.total, exact.total_exact) == (250, True)
    assert (capped.total, capped.total_exact, capped.has_next) == (100, False, True)
    assert (len(last.items), last.total, last.has_next) == (10, 250, False)


def test_search_matches_name_slug_and_category_in_any_case_and_pages_through_all_matches(ws):
    grow_catalog(ws, 300)
    with ws.session() as s:
        assert [a.slug for a in search_agents(s, "AGENT 000123").items] == ["agent-000123"]
        assert [a.slug for a in search_agents(s, "agent-000124").items] == ["agent-000124"]
        assert search_agents(s, "Group-3").total == len([i for i in range(1, 301) if i % 7 == 3])
        assert search_agents(s, category="group-1").total == len([i for i in range(1, 301) if i % 7 == 1])
        assert search_agents(s, category="group").total == 0  # a category matches whole, not as a substring
        assert search_agents(s, "100%").total == 0 and search_agents(s, "agent_0").total == 0  # wildcards are literal
        seen, offset = [], 0
        while True:
            page = search_agents(s, "bulk", offset=offset, limit=70)
            seen += [a.slug for a in page.items]
            if not page.has_next:
                break
            offset += page.limit
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 300


def test_showcase_and_missing_filters_and_categories_come_from_sql(ws):
    grow_catalog(ws, 200, thumbnail_every=4)
    with ws.session() as s:
        shown = search_agents(s, with_thumbnail=True, category="bulk", limit=200)
        missing = search_agents(s, only_missing=True, category="bulk", limit=200)
        names = category_names(s)
    assert shown.total == 50 and all(a.current_thumbnail for a in shown.items)
    assert missing.total == 150 and not any(a.current_thumbnail for a in missing.items)
    assert {"bulk", "group-0", "group-6"} <= set(names) and names == sorted(set(names))


def test_a_category_matches_as_written_on_either_database(ws):
    """SQLite's LIKE ignores ASCII case and PostgreSQL's does not: filtering by "Zeta" showed the
    "zeta" agents too on SQLite only. A category matches as written, on both, and only a whole
    element of the list: not a name that holds it after an escaped quote, nor one LIKE's % or _
    would have matched."""
    with ws.session() as s, s.begin():
        import_agents(s, [{"slug": "upper", "name": "Upper", "categories": ["Zeta"]},
                          {"slug": "lower", "name": "Lower", "categories": ["zeta"]},
                          {"slug": "quoted", "name": "Quoted", "categories": ['x"zeta']},
                          {"slug": "cafe", "name": "Cafe", "categories": ["Café 50%_off", "zeta-tools"]},
                          {"slug": "near", "name": "Near", "categories": ["Café 5000off"]},
                          {"slug": "same", "name": "Same", "categories": ["Zeta"]}])
        s.execute(update(Agent).where(Agent.slug.in_(["lower", "same"])).values(current_thumbnail=KEY))
    with ws.session() as s:
        def slugs(**filters):
            return [a.slug for a in search_agents(s, **filters).items]

        assert slugs(category="Zeta") == ["same", "upper"]
        assert slugs(category="zeta") == ["lower"]
        assert slugs(category='x"zeta') == ["quoted"]
        assert slugs(category="Café 50%_off") == ["cafe"]
        assert slugs(any_category=["zeta", "Café 50%_off"]) == ["cafe", "lower"]  # the showcase's pills
        assert {"Zeta", "zeta"} <= set(category_names(s))
    # The store-card preview puts an agent of the same category first: "Same", not "Lower".
    assert [a.slug for a in store_neighbours(ws, "upper", limit=1)] == ["same"]


def test_the_category_filter_follows_imports_and_edits_without_reading_agents(ws):
    with ws.session() as s, s.begin():
        import_agents(s, [{"slug": "new-one", "name": "New", "categories": "zebra tools, writing"}])
    with ws.session() as s:
        assert "zebra tools" in category_names(s)
    with ws.session() as s, s.begin():
        update_agent_text(s, "new-one", name="New", sub_heading="", description="", categories=["writing"],
                          actor=local_admin(ws.settings))
    with ws.session() as s, count_statements(ws.engine) as statements, loaded_rows() as loaded:
        names = category_names(s)
    assert "zebra tools" not in names and "writing" in names
    assert len(statements) == 1 and loaded == []  # names only: no agent is read


def test_history_filters_and_pages_in_sql_newest_first(ws):
    local = add_generations(ws, "pixel-poster", 30, approve_every=10)
    add_generations(ws, "pixel-poster", 5, provider="ideogram")
    agent = ws.get_agent("pixel-poster")
    with ws.session() as s:
        first = history_page(s, agent.id, limit=20)
        assert first.total == 35 and len(first.items) == 20 and first.has_next
        assert [g.id for g in first.items] == sorted((g.id for g in first.items), reverse=True)
        assert all(len(g.candidates) == 2 for g in first.items)
        assert history_page(s, agent.id, provider="ideogram").total == 5
        assert history_page(s, agent.id, provider="local", approved_only=True).total == 3
        assert [g.id for g in history_page(s, agent.id, approved_only=True).items] == [local[20], local[10], local[0]]
        assert history_page(s, agent.id, status=CandidateStatus.BLOCKED).total == 0
        assert history_page(s, agent.id, status=CandidateStatus.FAILED).total == 35
        assert approvals_page(s, agent.id).total == 3


def test_batch_progress_is_counted_in_sql_without_loading_the_items(ws):
    grow_catalog(ws, 400)
    with ws.session() as s:
        agents = list(s.scalars(select(Agent).where(Agent.slug.like("agent-%")).order_by(Agent.id)))
    batch_id = create_batch(ws, agents, {"provider": "local", "count": 1})
    with ws.session() as s, s.begin():
        done = list(s.scalars(select(BatchItem.id).where(BatchItem.batch_id == batch_id).limit(150)))
        s.execute(update(BatchItem).where(BatchItem.id.in_(done)).values(status=BatchItemStatus.DONE))
    with ws.session() as s, loaded_rows() as loaded:
        summary = batches_page(s).items[0]
    assert (summary.total, summary.finished) == (400, 150)
    assert loaded.count("BatchItem") == 0
    with ws.session() as s:
        items = batch_items_page(s, batch_id, offset=380)
    assert items.total == 400 and len(items.items) == 20 and items.items[-1][0].agent.slug == "agent-000400"


def reviewed_batch(ws, n: int, *, image_key: str = KEY) -> tuple[int, list[tuple[int, int]]]:
    """A finished batch over the first `n` bulk agents, each with a generation of two candidates
    (bulk-inserted, no renderer): the batch id and each agent's (item id, first candidate id), in order."""
    grow_catalog(ws, n)
    with ws.session() as s:
        agents = list(s.scalars(select(Agent).where(Agent.slug.like("agent-%")).order_by(Agent.id).limit(n)))
    batch_id = create_batch(ws, agents, {"provider": "local", "count": 2})
    with ws.session() as s, s.begin():
        items = list(s.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.id)))
        gens = [Generation(agent_id=i.agent_id, spec={"provider": "local", "prompt": "p"}, status=GenerationStatus.SUCCEEDED,
                           candidates=[Candidate(position=p, seed=p, status=CandidateStatus.SUCCEEDED, image_key=image_key)
                                       for p in range(2)]) for i in items]
        s.add_all(gens)
        s.flush()
        for item, gen in zip(items, gens):
            item.generation_id, item.status = gen.id, BatchItemStatus.DONE
        s.execute(update(Batch).where(Batch.id == batch_id).values(status=BatchStatus.DONE))
        return batch_id, [(item.id, gen.candidates[0].id) for item, gen in zip(items, gens)]


def test_the_batch_review_filter_is_applied_before_paging(ws):
    batch_id, agents = reviewed_batch(ws, 45)
    starred = [a for i, a in enumerate(agents) if i % 9 not in (1, 3, 5, 7)]  # 25 of the 45
    approved, rejected = agents[1], agents[3]
    with ws.session() as s, s.begin():
        s.execute(update(Candidate).where(Candidate.id.in_([c for _, c in starred])).values(verdict=Verdict.STARRED))
        s.execute(update(Candidate).where(Candidate.id == rejected[1] + 1).values(verdict=Verdict.REJECTED))  # its second one
        agent_id = s.scalar(select(BatchItem.agent_id).where(BatchItem.id == approved[0]))
        s.add(Approval(agent_id=agent_id, candidate_id=approved[1], approved_by="t", upload_key=KEY, spec={}))

    def items(review, offset=0):
        with ws.session() as s:
            page = batch_items_page(s, batch_id, review=review, offset=offset, limit=20)
        return page.total, [item.id for item, _ in page.items]

    assert items("starred", 20) == (25, [i for i, _ in starred[20:]])  # page 2 of Starred: the last 5 starred agents
    assert items("starred") == (25, [i for i, _ in starred[:20]])
    reviewed = [a for a in agents if a in starred or a in (approved, rejected)]
    assert items("reviewed", 20) == (27, [i for i, _ in reviewed[20:]])
    unreviewed = [i for i, _ in agents if (i, _) not in reviewed]
    assert items("unreviewed") == (18, unreviewed)
    assert items(None, 40) == (45, [i for i, _ in agents[40:]])
    with pytest.raises(InvalidInput), ws.session() as s:  # a misspelt filter is refused, not read as "all"
        batch_items_page(s, batch_id, review="Starred")


def batch_reads(ws, batch_id: int) -> None:
    """What the Batch page reads on a rerun: the picker's page, the batch's progress, a page of its agents."""
    with ws.session() as s:
        batches_page(s, limit=20)
        batch_summary(s, batch_id)
        page = batch_items_page(s, batch_id, review="unreviewed", limit=20)
    approved_candidates(ws, [c.id for _, gen in page.items if gen for c in gen.candidates])


def page_reads(ws) -> dict[str, int]:
    """The library calls each page makes on a rerun, and how many statements each needs."""
    agent = ws.get_agent("agent-000050")
    with ws.session() as s:
        newest_batch = s.scalar(select(func.max(Batch.id)))
    calls = {
        "studio": lambda s: (search_agents(s, "agent", limit=50), category_names(s),
                             ws.get_agent(agent.slug, session=s), latest_generation(ws, agent.slug)),
        "history": lambda s: (search_agents(s, limit=50), history_page(s, agent.id, limit=20), approvals_page(s, agent.id)),
        "showcase": lambda s: (search_agents(s, with_thumbnail=True, limit=24), category_names(s)),
        "catalog": lambda s: search_agents(s, "agent-0000", limit=50),
        "batch": lambda s: batch_reads(ws, newest_batch),
    }
    counts = {}
    for page, call in calls.items():
        with ws.session() as s, count_statements(ws.engine) as statements:
            call(s)
        counts[page] = len(statements)
    return counts


def test_every_page_needs_the_same_statements_at_100_and_at_10000_agents(ws):
    grow_catalog(ws, 100, thumbnail_every=3)
    add_generations(ws, "agent-000050", 25, approve_every=5)
    with ws.session() as s:
        first = list(s.scalars(select(Agent).where(Agent.slug.like("agent-%")).limit(100)))
    create_batch(ws, first, {"provider": "local", "count": 1})
    small = page_reads(ws)
    grow_catalog(ws, 10_000, thumbnail_every=3)
    with ws.session() as s:
        create_batch(ws, list(s.scalars(select(Agent).where(Agent.slug.like("agent-%")))), {"provider": "local", "count": 1})
    large = page_reads(ws)
    assert small == large
    assert all(n <= 8 for n in large.values()), large


@pytest.mark.parametrize("limit", [0, -5])
def test_a_page_always_holds_at_least_one_row(ws, limit):
    with ws.session() as s:
        assert len(search_agents(s, limit=limit).items) == 1


# --- typed search through the trigram index (SQLite FTS5, PostgreSQL pg_trgm) --------------

SEARCHABLE = [
    {"slug": "t-sql-sherpa", "name": "TSQL Sherpa", "categories": ["data", "developer tools"]},
    {"slug": "uber-planner", "name": "Über Planner", "categories": ["travel"]},
    {"slug": "quote-maker", "name": 'The "Quote" Maker 100%', "categories": ["writing"]},
    {"slug": "snake-case", "name": "snake_case Fixer", "categories": ["developer tools"]},
    {"slug": "ai-tutor", "name": "Ai Tutor", "categories": ["ai", "education"]},
]


def add_searchable(ws) -> None:
    with ws.session() as s, s.begin():
        s.execute(insert(Agent), SEARCHABLE)


@pytest.mark.parametrize("needle, expected", [
    ("sherpa", {"t-sql-sherpa"}),           # inside a name, any case
    ("QL SHER", {"t-sql-sherpa"}),          # spaces are part of the needle
    ("über", {"uber-planner"}),           # non-ASCII letters fold on both backends (SQLite's lower() does not)
    ("ÜBER PLAN", {"uber-planner"}),
    ("er-plan", {"uber-planner"}),        # inside a slug
    ("developer t", {"t-sql-sherpa", "snake-case"}),  # inside a category
    ('"quote"', {"quote-maker"}),         # quotes are literal, not search syntax
    ("100%", {"quote-maker"}),            # so are LIKE's wildcards
    ("e_c", {"snake-case"}),
    ("ai", {"ai-tutor"}),                 # shorter than a trigram: still found
    ("sherpat-sql", set()),               # never across two fields (the name's end, the slug's start)
    ("planner\"", set()),
])
def test_typed_search_finds_the_same_agents_on_both_backends(ws, needle, expected):
    add_searchable(ws)
    with ws.session() as s:
        found = {a.slug for a in search_agents(s, needle, limit=200).items}
    assert found & {a["slug"] for a in SEARCHABLE} == expected


def test_the_search_index_follows_renames_edits_and_deletes(ws):
    add_searchable(ws)
    with ws.session() as s, s.begin():
        update_agent_text(s, "t-sql-sherpa", name="Query Guide", sub_heading="", description="", categories=["analytics"],
                          actor=local_admin(ws.settings))
    mine = {a["slug"] for a in SEARCHABLE}

    def found(needle: str) -> set[str]:
        with ws.session() as s:
            return {a.slug for a in search_agents(s, needle, limit=200).items} & mine

    assert found("query gui") == {"t-sql-sherpa"} and found("analytic") == {"t-sql-sherpa"}
    assert found("tsql") == set() and found("t-sql-sherp") == {"t-sql-sherpa"}  # the old name is gone, the slug stays
    assert found("developer tools") == {"snake-case"}
    with ws.session() as s, s.begin():
        s.execute(Agent.__table__.delete().where(Agent.slug == "t-sql-sherpa"))
    assert found("query gui") == found("t-sql") == set()


def plan_of(session, stmt) -> str:
    """The database's plan for `stmt`, as text."""
    compiled = stmt.compile(session.get_bind())
    run = session.connection().exec_driver_sql
    if session.get_bind().dialect.name == "sqlite":
        return "\n".join(row[-1] for row in run(f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())))
    # A few thousand rows fit in a handful of pages, where reading them all (or walking the name
    # index) is honestly cheapest; with both priced out, the plan shows whether an index can
    # answer the search. (At 100,000 agents the planner picks it unasked: bench/scale.py.)
    run("SET LOCAL enable_seqscan = off")
    run("SET LOCAL enable_indexscan = off")
    return "\n".join(row[0] for row in run(f"EXPLAIN {compiled}", compiled.params))


def test_a_typed_search_looks_agents_up_in_the_index_instead_of_reading_them_all(ws):
    grow_catalog(ws, 5_000)
    with ws.session() as s:
        plan = plan_of(s, agent_query("agent 004321", dialect=s.get_bind().dialect.name).limit(50))
        assert [a.slug for a in search_agents(s, "agent 004321").items] == ["agent-004321"]
    if ws.engine.dialect.name == "sqlite":
        assert "agents_search VIRTUAL TABLE INDEX" in plan, plan
        assert not re.search(r"SCAN agents\b(?!_search)", plan), plan  # no walk over every agent
    else:
        assert "ix_agents_search" in plan, plan
        assert "Seq Scan" not in plan and "ix_agents_name_id" not in plan, plan


# --- the pages themselves, rerun through AppTest -------------------------------------------


def approve_and_show_everywhere(ws, every: int, seed: int = 1) -> None:
    """Approve a real image for trend-radar and make it the thumbnail of every `every`-th bulk
    agent too (a page must be able to show it)."""
    from imagegen.approval import approve_candidate
    from tests.test_pages import generated

    upload = approve_candidate(ws, generated(ws, "trend-radar", seed, count=1).candidates[0].id).upload_key
    with ws.session() as s, s.begin():
        s.execute(update(Agent).where(Agent.slug.like("agent-%"), Agent.id % every == 0).values(current_thumbnail=upload))


def rerun_reads(app) -> tuple[int, int]:
    """The SQL statements and the agents loaded by one rerun of the page `app` is on (caches
    warm, as a rerun finds them)."""
    app.run()
    with count_statements(Engine) as statements, loaded_rows() as loaded:
        app.run()
    assert not app.exception, app.exception
    return len(statements), loaded.count("Agent")


def test_showcase_and_history_pages_need_the_same_statements_at_100_and_at_10000_agents(ws, app):
    """The pages as Streamlit runs them: the picker, the filters, the grid, the trail."""
    from tests.test_pages import generated, open_page

    grow_catalog(ws, 100)
    for seed in range(2, 6):
        generated(ws, "trend-radar", seed, count=2)
    approve_and_show_everywhere(ws, 2)

    def counts() -> dict[str, tuple[int, int]]:
        open_page(app, "showcase")
        showcase = rerun_reads(app)
        open_page(app, "history")
        app.text_input(key="history_agent_query").input("trend rad").run()  # a new search opens its first match
        assert app.selectbox(key="history_agent").value == "trend-radar"
        return {"showcase": showcase, "history": rerun_reads(app)}

    small = counts()
    grow_catalog(ws, 10_000)
    for seed in range(6, 10):  # History's approvals trail grows too: no statement per approval
        approve_and_show_everywhere(ws, 2, seed)
    large = counts()
    assert small == large, (small, large)  # statements, and agents loaded (never the whole catalog)
    assert all(statements <= 12 and agents <= 60 for statements, agents in large.values()), large


def test_the_batch_page_reads_one_page_of_agents_whatever_the_batch_size(ws, app):
    """The Batch page as Streamlit runs it, on a 40-agent and a 600-agent batch (past the 500 ids
    SQLAlchemy's selectin loading puts in one statement, so loading every item would cost more
    statements too): the same statements, and one page of agents read, not the batch."""
    from tests.test_pages import generated, open_page

    image = generated(ws, "trend-radar", 1, count=1).candidates[0].image_key  # the page draws real thumbnails
    small_batch, _ = reviewed_batch(ws, 40, image_key=image)
    large_batch, _ = reviewed_batch(ws, 600, image_key=image)
    open_page(app, "batch")

    def reads(batch_id: int) -> tuple[int, dict[str, int]]:
        [picker] = [s for s in app.selectbox if s.label == "Batch"]
        picker.select(batch_id).run()
        assert any(f"{n} of {n} agents · done" in (p.proto.text or "") for p in app.get("progress") for n in (40, 600))
        with count_statements(Engine) as statements, loaded_rows() as loaded:
            app.run()
        assert not app.exception, app.exception
        return len(statements), {name: loaded.count(name) for name in ("Batch", "BatchItem", "Generation", "Candidate")}

    small, large = reads(small_batch), reads(large_batch)  # Batch: the picker's two, and the progress of the one shown
    assert small == large, (small, large)
    assert large[1] == {"Batch": 3, "BatchItem": 20, "Generation": 20, "Candidate": 40}, large


def test_the_new_batch_form_counts_its_agents_in_sql_and_reads_them_only_to_start(ws, app):
    """Measured: every run of the Batch page read the whole catalog to say "N agents" under
    the New batch form (its default, "Without a thumbnail", matches nearly every agent)."""
    from tests.test_pages import open_page

    def agents_read(catalog: int) -> tuple[int, str]:
        grow_catalog(ws, catalog, thumbnail_every=10)
        open_page(app, "batch")
        with loaded_rows() as loaded:
            app.run()
        assert not app.exception, app.exception
        [caption] = [c.value for c in app.caption if " agents, " in c.value]
        return loaded.count("Agent"), caption

    small, large = agents_read(100), agents_read(1_200)
    missing = 12 + 1_200 - 120  # the sample agents and nine in ten of the made-up ones lack a thumbnail
    assert large == (small[0], f"{missing:,} agents, {2 * missing:,} images")
    assert small[0] <= 1  # the first agent, for the recipe's estimate
    [start] = [b for b in app.button if b.label == "Start batch"]
    start.click().run()
    assert not app.exception, app.exception
    with ws.session() as s:
        assert s.scalar(select(func.count()).select_from(BatchItem)) == missing
        batch_id = s.scalar(select(Batch.id))
    set_batch_status(ws, batch_id, BatchStatus.PAUSED)  # the test is about what was read, not about running it


def test_the_batch_review_filter_looks_approvals_up_by_candidate(ws):
    """Review's reviewed/unreviewed filter asks, for each candidate, whether it was approved:
    without an index on approvals.candidate_id each question read every approval."""
    from imagegen.listings import _item_reviewed

    with ws.session() as s:
        plan = plan_of(s, select(BatchItem.id).where(BatchItem.batch_id == 1, ~_item_reviewed()))
    if ws.engine.dialect.name == "sqlite":
        assert "ix_approvals_candidate_id" in plan and not re.search(r"SCAN approvals\b", plan), plan
    else:
        assert "ix_approvals_candidate_id" in plan and "Seq Scan on approvals" not in plan, plan

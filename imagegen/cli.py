"""`python -m imagegen`: headless generation, the catalog and approvals.

Errors end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from imagegen.approval import approve_candidate
from imagegen.auth import Actor, local_admin
from imagegen.catalog import import_catalog, open_catalog_file
from imagegen.errors import ConfigError, ImagegenError, InvalidInput
from imagegen.export import write_export
from imagegen.generation import run_to_completion, start_generation
from imagegen.providers import default_provider, provider_class
from imagegen.queue import uses_workers
from imagegen.publish import publications, retry_publishing, unpublished
from imagegen.recipes import list_templates, make_spec, save_template
from imagegen.records import Agent, GenerationSource, PublishStatus
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from imagegen.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imagegen", description="Thumbnail Studio from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate candidates for one agent and write them to a folder")
    gen.add_argument("--agent", required=True, metavar="SLUG")
    gen.add_argument("--provider", default=None, help="local, ideogram or replicate (default: local without keys)")
    gen.add_argument("--model", default=None)
    gen.add_argument("--count", type=int, default=4, help="1 to 8 candidates")
    gen.add_argument("--out", required=True, type=Path, metavar="DIR")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--aspect", default=None, help="e.g. 16x9, 4x3, 1x1")
    gen.add_argument("--palette", default=None, help="a preset name (brand, EMBER, ...) or #hex[:weight],...")
    gen.add_argument("--template", default=None, help="pop-art, app-store or a saved template")
    gen.add_argument("--prompt", default=None, help="use this prompt instead of the template's")
    gen.add_argument("--negative-prompt", default=None)
    gen.add_argument("--style", default=None)
    gen.add_argument("--magic-prompt", default=None, choices=("AUTO", "ON", "OFF"))
    gen.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="a provider option, e.g. rendering_speed=TURBO or output_quality=80 (repeatable)")

    batch = sub.add_parser("batch", help="one recipe over many agents, with a progress bar; resumable")
    which = batch.add_mutually_exclusive_group(required=True)
    which.add_argument("--missing", action="store_true", help="every agent without a thumbnail")
    which.add_argument("--all", action="store_true", help="every agent")
    which.add_argument("--category", default=None)
    which.add_argument("--slugs", default=None, help="comma-separated slugs")
    which.add_argument("--resume", type=int, default=None, metavar="BATCH_ID", help="finish an earlier batch")
    batch.add_argument("--provider", default=None)
    batch.add_argument("--model", default=None)
    batch.add_argument("--count", type=int, default=4)
    batch.add_argument("--seed", type=int, default=None)
    batch.add_argument("--aspect", default=None)
    batch.add_argument("--palette", default=None)
    batch.add_argument("--template", default=None)
    batch.add_argument("--name", default="")
    batch.add_argument("--auto-approve", action="store_true", help="approve each agent's first good candidate (off by default)")
    batch.add_argument("--out", type=Path, default=None, metavar="DIR", help="also write every candidate image to this folder")

    show = sub.add_parser("show", help="one generation: its recipe and candidates (ids to approve, files with --out)")
    show.add_argument("generation_id", type=int)
    show.add_argument("--out", type=Path, default=None, metavar="DIR", help="write the candidate images to this folder")

    sub.add_parser("agents", help="list the catalog as JSON lines")

    tmpl = sub.add_parser("template", help="list prompt templates, or save one with NAME and TEXT")
    tmpl.add_argument("name", nargs="?")
    tmpl.add_argument("text", nargs="?", help="the template, with {name}, {description}, {sub_heading}, {categories}, {subject}")

    imp = sub.add_parser("import", help="import agents from a store-export CSV or a JSON list")
    imp.add_argument("file", type=Path)

    appr = sub.add_parser("approve", help="approve a candidate as its agent's thumbnail")
    appr.add_argument("candidate_id", type=int)

    pub = sub.add_parser("publish", help="show publishing failures, or send them again with --retry")
    pub.add_argument("--retry", action="store_true", help="publish every failed or unfinished approval again")
    pub.add_argument("approval_ids", nargs="*", type=int, metavar="APPROVAL_ID")

    work = sub.add_parser("worker", help="run queued jobs (PostgreSQL): start one or more, on any machine")
    work.add_argument("--concurrency", type=int, default=4, help="jobs calling providers at once (default 4); twice as many run, so the next are ready")
    work.add_argument("--queues", default=None, help="comma-separated providers to serve, e.g. ideogram,local (default: all)")

    exp = sub.add_parser("export", help="the approved set as a zip: one image per agent, manifest.csv and manifest.json")
    exp.add_argument("--out", required=True, type=Path, metavar="FILE.zip")

    # The CLI is a local admin: whoever runs it on this machine already owns the data folder.
    for command in sub.choices.values():
        command.add_argument("--by", default=None, help="who is acting, recorded on every action (default IMAGEGEN_CURATOR)")
    return parser


def parse_options(pairs: list[str]) -> dict:
    """`KEY=VALUE` pairs; a value that reads as JSON (numbers, true/false) is taken as such."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--option takes KEY=VALUE, not {pair!r}.")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def cmd_generate(ws: Workspace, args: argparse.Namespace) -> int:
    agent = ws.get_agent(args.agent)
    provider = args.provider or default_provider(ws.settings)
    spec = make_spec(
        ws,
        agent,
        provider=provider,
        template=args.template,
        prompt=args.prompt,
        palette=args.palette,
        model=args.model,
        count=args.count,
        seed=args.seed,
        aspect_ratio=args.aspect,
        negative_prompt=args.negative_prompt,
        style=args.style,
        magic_prompt=args.magic_prompt,
        options=parse_options(args.option),
    )
    generation_id = start_generation(ws, agent.slug, spec, source=GenerationSource.CLI, actor=_actor(ws, args))
    if uses_workers(ws.settings):  # PostgreSQL: only enqueue, and wait for a worker to finish it
        ws.jobs.submit(generation_id)
        print(f"generation {generation_id} queued on {provider!r}; waiting for a worker (python -m imagegen worker)", file=sys.stderr)
        ws.jobs.wait(generation_id, timeout=float("inf"))
    else:
        run_to_completion(ws, generation_id)
    gen = ws.get_generation(generation_id)
    summary = candidate_summary(ws, gen, args.out)
    print(json.dumps({"generation": gen.id, "agent": agent.slug, "status": gen.status.value, "recipe": gen.spec, "candidates": summary}, indent=2, ensure_ascii=False))
    return 0 if any(c["status"] == "succeeded" for c in summary) else 1


def candidate_summary(ws: Workspace, gen, out: Path | None) -> list[dict]:
    """Each candidate's id (for `approve`), status and seed; with `out`, its image file too."""
    summary = []
    for cand in gen.candidates:
        item = {"id": cand.id, "position": cand.position, "status": cand.status.value, "seed": cand.seed}
        if cand.image_key:
            item.update(width=cand.width, height=cand.height)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                ext = cand.image_key.rsplit(".", 1)[-1]
                path = out / f"{gen.agent.slug}-{gen.id}-{cand.position + 1}.{ext}"
                path.write_bytes(ws.media.get(cand.image_key))
                item["file"] = str(path)
        if cand.error:
            item["error"] = cand.error
        summary.append(item)
    return summary


def cmd_show(ws: Workspace, args) -> int:
    gen = ws.get_generation(args.generation_id)
    print(json.dumps({
        "generation": gen.id, "agent": gen.agent.slug, "source": gen.source.value, "status": gen.status.value,
        "recipe": gen.spec, "candidates": candidate_summary(ws, gen, args.out),
    }, indent=2, ensure_ascii=False))
    return 0


def cmd_batch(ws: Workspace, args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from imagegen.batch import batch_generations, create_batch, follow_batch, get_batch, run_batch, select_agents, set_batch_status
    from imagegen.listings import batch_summary
    from imagegen.records import BatchStatus

    if args.resume is not None:
        batch_id = args.resume
        if get_batch(ws, batch_id).status is BatchStatus.PAUSED:
            set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    else:
        slugs = [s.strip() for s in args.slugs.split(",")] if args.slugs else None
        agents = select_agents(ws, missing=args.missing, category=args.category, slugs=slugs)
        choices = {k: v for k, v in {
            "provider": args.provider or default_provider(ws.settings), "model": args.model, "count": args.count,
            "seed": args.seed, "aspect_ratio": args.aspect, "palette": args.palette, "template": args.template,
        }.items() if v is not None}
        selection = {"missing": args.missing, "all": args.all, "category": args.category, "slugs": slugs}
        batch_id = create_batch(ws, agents, choices, name=args.name, selection=selection, auto_approve=args.auto_approve,
                                actor=_actor(ws, args))
    with ws.session() as s:
        summary = batch_summary(s, batch_id)  # counted in SQL, not read item by item
    total, already = summary.total, summary.finished
    print(f"batch {batch_id}: {total} agents, {already} already done", file=sys.stderr)
    columns = (TextColumn("[bold]batch {task.fields[batch]}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TextColumn("{task.fields[agent]}"), TimeElapsedColumn())
    last: list = []
    with Progress(*columns, transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("batch", total=total, completed=already, batch=batch_id, agent="", rate="")

        def progress(counts, slug: str) -> None:
            last[:] = [counts]
            end = counts.projected_end
            rate = f"{counts.images_per_minute:.0f} images/min" + (f", done by {end:%H:%M:%S} UTC" if end else "")
            bar.update(task, completed=counts.done, agent=slug, rate=rate)

        async def run():
            try:
                return await run_batch(ws, batch_id, progress)
            finally:
                await ws.aclose_providers()

        try:
            if uses_workers(ws.settings):  # PostgreSQL: one job per agent for the workers; this only watches
                ws.jobs.submit_batch(batch_id)
                status = follow_batch(ws, batch_id, progress)
            else:
                status = asyncio.run(run())
        except KeyboardInterrupt:
            set_batch_status(ws, batch_id, BatchStatus.PAUSED)
            print(f"error: paused; finished agents are kept. Resume with: python -m imagegen batch --resume {batch_id}", file=sys.stderr)
            return 130
    if last:
        print(f"batch {batch_id}: {last[0].images} images at {last[0].images_per_minute:.0f} images/min", file=sys.stderr)
    items = [{"agent": i.agent.slug, "status": i.status.value, "generation": i.generation_id,
              "candidates": candidate_summary(ws, gen, args.out) if gen else [],
              **({"error": i.error} if i.error else {})} for i, gen in batch_generations(ws, batch_id)]
    print(json.dumps({"batch": batch_id, "status": status.value, "items": items}, indent=2, ensure_ascii=False))
    return 0 if all(i["status"] == "done" for i in items) else 1


def cmd_template(ws: Workspace, args) -> int:
    if args.name and args.text:
        save_template(ws, args.name, args.text, actor=_actor(ws, args))
    elif args.name:
        raise InvalidInput("Give the template's text after its name.")
    print(json.dumps(list_templates(ws), indent=2, ensure_ascii=False))
    return 0


def cmd_agents(ws: Workspace, _args) -> int:
    with ws.session() as s:
        for agent in s.scalars(select(Agent).order_by(Agent.slug)):
            print(json.dumps({"slug": agent.slug, "name": agent.name, "sub_heading": agent.sub_heading, "categories": agent.categories, "thumbnail": agent.current_thumbnail}, ensure_ascii=False))
    return 0


def cmd_import(ws: Workspace, args) -> int:
    rows = open_catalog_file(args.file, max_mb=ws.settings.import_max_mb)
    report = import_catalog(ws, rows, source=str(args.file), actor=_actor(ws, args))
    for error in report.errors:
        print(f"skipped {error}", file=sys.stderr)
    if report.skipped > len(report.errors):
        print(f"skipped {report.skipped - len(report.errors)} more rows", file=sys.stderr)
    print(json.dumps({"added": report.added, "updated": report.updated, "errors": report.skipped}))
    return 0 if not report.skipped else 1


def _actor(ws: Workspace, args) -> Actor:
    return local_admin(ws.settings, args.by)


def _outcome(pub) -> dict:
    return {"target": pub.target, "status": pub.status.value, "url": pub.url, **({"error": pub.error} if pub.error else {})}


def cmd_approve(ws: Workspace, args) -> int:
    approval = approve_candidate(ws, args.candidate_id, actor=_actor(ws, args))
    pub = publications(ws, [approval.id])[approval.id]
    with ws.session() as s:
        agent = s.get(Agent, approval.agent_id)
    print(json.dumps({
        "approval": approval.id, "agent": agent.slug, "candidate": approval.candidate_id, "by": approval.approved_by,
        "publishing": _outcome(pub), "url": pub.url, "thumbnail": approval.upload_key, "previous": approval.previous_thumbnail,
        "width": approval.width, "height": approval.height, "format": approval.format, "bytes": approval.byte_size,
    }))
    return 0 if pub.status is PublishStatus.PUBLISHED else 1


def cmd_publish(ws: Workspace, args) -> int:
    if args.retry:
        pubs = retry_publishing(ws, args.approval_ids or None, actor=_actor(ws, args))
    else:
        pubs = list(publications(ws, args.approval_ids or unpublished(ws)).values())
    for pub in pubs:
        print(json.dumps({"approval": pub.approval_id, **_outcome(pub)}))
    if not pubs:
        print("nothing to publish: every approval is published", file=sys.stderr)
    return 0 if all(p.status is PublishStatus.PUBLISHED for p in pubs) else 1


def cmd_worker(ws: Workspace, args) -> int:
    from imagegen.worker import run_worker

    if ws.engine.dialect.name != "postgresql":
        raise ConfigError("Workers need PostgreSQL: set IMAGEGEN_DATABASE_URL=postgresql+psycopg://... (with SQLite, the app and the CLI run jobs themselves).")
    if args.concurrency < 1:
        raise InvalidInput("--concurrency takes a number of jobs, 1 or more.")
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    for name in queues or ():
        provider_class(name)  # an unknown queue is one line, not a worker that waits forever
    print(f"worker: {args.concurrency} calling at once, {2 * args.concurrency} jobs, queues {', '.join(queues) if queues else 'all'}; stop with SIGTERM or Ctrl-C", file=sys.stderr)
    run_worker(ws, concurrency=args.concurrency, queues=queues)
    print("worker: stopped", file=sys.stderr)
    return 0


def cmd_export(ws: Workspace, args) -> int:
    count = write_export(ws, args.out)
    print(json.dumps({"file": str(args.out), "agents": count}))
    return 0


COMMANDS = {
    "generate": cmd_generate, "batch": cmd_batch, "agents": cmd_agents, "template": cmd_template,
    "import": cmd_import, "approve": cmd_approve, "publish": cmd_publish, "export": cmd_export, "show": cmd_show, "worker": cmd_worker,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ws = open_workspace(Settings())
    except ImagegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](ws, args)
    except ImagegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:  # a full disk, a locked or unreachable database: one line, no traceback
        print(f"error: the database failed ({exc.orig}); finished work is kept. Check the disk and IMAGEGEN_DATABASE_URL.", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader (e.g. `| head`) went away; that is not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted; finished candidates were kept.", file=sys.stderr)
        return 130
    finally:
        ws.close()

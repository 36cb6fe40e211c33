"""Exports: CSV that a spreadsheet will not run, and the approved set as one zip."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from imagegen.images import sniff_format
from imagegen.publish import EXTENSIONS, publications
from imagegen.records import Agent, Approval

if TYPE_CHECKING:
    from imagegen.workspace import Workspace

# A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that would start a formula gets a leading apostrophe, which spreadsheets show as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return out.getvalue().encode()


def approved_set(ws: "Workspace") -> list[tuple[dict, str, bytes]]:
    """For each agent with a thumbnail: its manifest row, file name and image bytes."""
    with ws.session() as s:
        agents = list(s.scalars(select(Agent).where(Agent.current_thumbnail.is_not(None)).order_by(Agent.slug)))
        current = {a.id: a.current_thumbnail for a in agents}
        latest = {}  # agent id -> the newest approval that made its current thumbnail
        for approval in s.scalars(select(Approval).where(Approval.agent_id.in_(list(current))).order_by(Approval.id)):
            if approval.upload_key == current[approval.agent_id]:
                latest[approval.agent_id] = approval
    pubs = publications(ws, [a.id for a in latest.values()])
    out = []
    for agent in agents:
        data = ws.media.get(agent.current_thumbnail)
        image_format = sniff_format(data) or "PNG"
        name = f"{agent.slug}.{EXTENSIONS.get(image_format, 'png')}"
        approval = latest.get(agent.id)
        pub = pubs.get(approval.id) if approval else None
        row = {
            "slug": agent.slug, "name": agent.name, "file": name,
            "approval": approval.id if approval else None,
            "approved_by": approval.approved_by if approval else None,
            "approved_at": approval.approved_at.isoformat() if approval else None,
            "width": approval.width if approval else None, "height": approval.height if approval else None,  # as recorded
            "format": image_format, "bytes": len(data),
            "recipe": approval.spec if approval else None,
            "published_url": pub.url if pub else None,
        }
        out.append((row, name, data))
    return out


def export_zip(ws: "Workspace", items: list[tuple[dict, str, bytes]] | None = None) -> bytes:
    """One `{slug}.{ext}` per agent, plus manifest.csv and manifest.json."""
    items = approved_set(ws) if items is None else items
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for _row, name, data in items:
            zf.writestr(name, data)
        rows = [row for row, _name, _data in items]
        zf.writestr("manifest.json", json.dumps(rows, indent=2, ensure_ascii=False))
        zf.writestr("manifest.csv", write_csv([{**r, "recipe": json.dumps(r["recipe"], ensure_ascii=False)} for r in rows]))
    return buffer.getvalue()


def write_export(ws: "Workspace", out: Path) -> int:
    items = approved_set(ws)  # read once: the zip and the count
    data = export_zip(ws, items)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(data)
    return len(items)

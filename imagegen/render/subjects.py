"""What a thumbnail depicts: 40 drawn subjects and the keywords that choose one.

A keyword matches a word that starts with it (stems such as "translat" or "планир"), so
one entry covers plurals and verb forms. Keywords are weighted: 3 for words that name the
subject itself ("bug", "calendar"), 1 for words that only suggest it ("plan", "report").
"""

from __future__ import annotations

import re
from collections import Counter
import zlib
from dataclasses import dataclass

# subject: ((weight, keywords), ...), in English, Russian, Spanish, German and French.
KEYWORDS: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "code": ((3, ("code", "coding", "python", "program", "developer", "github", "function", "api", "код", "programm", "código", "programa")), (1, ("develop", "script", "software", "dev"))),
    "bug": ((3, ("bug", "debug", "ошибк", "баг", "fehler", "insect", "insecto")), (1, ("hunter", "pull", "review", "test"))),
    "chart": ((3, ("chart", "analytic", "graph", "trend", "график", "gráfico", "diagramm", "graphique")), (1, ("report", "data", "metric", "market", "rising", "arrow", "radar", "statist", "отчёт", "отчет", "informe", "bericht", "rapport"))),
    "calendar": ((3, ("calendar", "meeting", "schedul", "agenda", "календар", "встреч", "расписан", "calendario", "reunión", "kalender", "termin", "réunion", "calendrier")), (1, ("plan", "event", "daily", "weekly", "планир", "tomorrow"))),
    "mail": ((3, ("email", "e-mail", "mail", "inbox", "newsletter", "почт", "correo", "courriel")), (1, ("message", "outreach", "reply", "replies", "send"))),
    "money": ((3, ("money", "finance", "financial", "budget", "price", "profit", "invoice", "accountant", "деньг", "финанс", "dinero", "finanz", "geld", "argent")), (1, ("sales", "revenue", "cost", "pay", "quarterly", "business"))),
    "search": ((3, ("search", "find", "finder", "lookup", "scout", "seo", "поиск", "найти", "buscar", "suche", "recherche")), (1, ("research", "scrap", "discover", "lead", "prospect", "spot"))),
    "chat": ((3, ("chat", "conversation", "support", "чат", "диалог", "conversación", "gespräch")), (1, ("ticket", "customer", "answer", "ask", "assistant"))),
    "music": ((3, ("music", "song", "melod", "музык", "música", "musik", "musique", "chanson")), (1, ("audio", "sound", "playlist"))),
    "video": ((3, ("video", "youtube", "film", "movie", "shorts", "tiktok", "reel", "видео", "vídeo")), (1, ("stream", "clip", "episode", "mp4"))),
    "camera": ((3, ("camera", "photo", "photograph", "фото", "cámara", "kamera", "appareil")), (1, ("picture", "snapshot", "portrait"))),
    "translate": ((3, ("translat", "lingo", "language", "перевод", "traduc", "übersetz", "tradu", "multilingual")), (1, ("bridge", "english", "french", "locali"))),
    "travel": ((3, ("travel", "trip", "flight", "vacation", "путешеств", "viaje", "reise", "voyage")), (1, ("tour", "hotel", "destination"))),
    "food": ((3, ("food", "recipe", "menu", "cook", "restaurant", "meal", "café", "cafe", "crème", "coffee", "еда", "рецепт", "comida", "receta", "essen", "rezept", "cuisine", "recette")), (1, ("kitchen", "dinner", "lunch"))),
    "health": ((3, ("health", "medical", "doctor", "fitness", "wellness", "здоров", "salud", "gesundheit", "santé")), (1, ("workout", "diet", "sleep", "care"))),
    "shield": ((3, ("security", "secure", "protect", "shield", "safety", "защит", "безопас", "seguridad", "sicherheit", "sécurité")), (1, ("verif", "privacy", "guard", "spam"))),
    "lock": ((3, ("password", "lock", "encrypt", "login", "пароль", "contraseña", "passwort", "mot de passe")), (1, ("access", "auth", "key", "credential"))),
    "document": ((3, ("document", "pdf", "contract", "docs", "документ", "documento", "dokument")), (1, ("file", "paper", "page", "text", "summar", "brief", "notes"))),
    "spreadsheet": ((3, ("spreadsheet", "excel", "sheet", "table", "таблиц", "hoja de cálculo", "tabelle", "tableur")), (1, ("csv", "rows", "columns", "crm"))),
    "database": ((3, ("database", "sql", "postgres", "query", "база данных", "datenbank", "base de datos")), (1, ("data", "records", "storage", "dataset"))),
    "cloud": ((3, ("cloud", "облак", "nube", "wolke", "nuage")), (1, ("sync", "upload", "backup", "server", "hosting"))),
    "rocket": ((3, ("rocket", "launch", "startup", "boost", "ракет", "cohete", "rakete", "fusée")), (1, ("growth", "scale", "fast", "turbo", "viral"))),
    "brain": ((3, ("brain", "think", "mind", "learn", "insight", "мозг", "cerebro", "gehirn", "cerveau")), (1, ("idea", "knowledge", "smart", "intellig", "memory", "quiz"))),
    "robot": ((3, ("robot", "bot", "butler", "робот", "roboter")), (1, ("automat", "agent", "ai", "assistant", "autopilot"))),
    "megaphone": ((3, ("marketing", "campaign", "advert", "promot", "announce", "megaphone", "реклам", "маркетинг", "publicidad", "werbung", "publicité")), (1, ("social", "brand", "audience", "viral", "linkedin", "post", "copy", "copywriter"))),
    "cart": ((3, ("shop", "cart", "ecommerce", "e-commerce", "product", "buy", "магазин", "покуп", "compra", "tienda", "einkauf", "achat")), (1, ("order", "retail", "checkout", "amazon"))),
    "graduation": ((3, ("education", "student", "course", "teach", "tutor", "school", "university", "lesson", "учеб", "образован", "educación", "escuela", "schule", "bildung", "école")), (1, ("study", "exam", "homework", "training"))),
    "pin": ((3, ("map", "maps", "location", "local", "address", "place", "карта", "адрес", "mapa", "karte", "ort", "carte", "lieu")), (1, ("nearby", "city", "area", "directions"))),
    "clock": ((3, ("time", "clock", "deadline", "reminder", "timer", "время", "часы", "tiempo", "reloj", "zeit", "uhr", "horloge", "temps")), (1, ("hours", "minute", "morning", "daily", "punctual"))),
    "gear": ((3, ("workflow", "settings", "config", "engine", "integration", "настрой", "процесс", "ajuste", "einstellung")), (1, ("automat", "process", "tool", "pipeline", "optimi", "function"))),
    "lightbulb": ((3, ("idea", "ideas", "brainstorm", "inspir", "creativ", "идея", "idee", "idée")), (1, ("tip", "suggest", "name", "names", "innovat", "witty"))),
    "paintbrush": ((3, ("design", "paint", "art", "draw", "poster", "image", "illustrat", "дизайн", "рисова", "diseño", "arte", "kunst", "dessin")), (1, ("creative", "visual", "pixel", "graphic", "logo", "color", "colour"))),
    "microphone": ((3, ("podcast", "microphone", "voice", "speech", "transcri", "interview", "подкаст", "голос", "voz", "stimme", "voix")), (1, ("audio", "episode", "talk", "record", "speak"))),
    "newspaper": ((3, ("news", "newspaper", "article", "blog", "headline", "journal", "новост", "статья", "noticia", "artículo", "nachricht", "artikel", "actualité")), (1, ("digest", "press", "writer", "write", "content", "story", "publish"))),
    "trophy": ((3, ("win", "winner", "trophy", "award", "competit", "ranking", "побед", "премия", "premio", "preis", "trophée")), (1, ("best", "top", "goal", "challenge", "leader"))),
    "heart": ((3, ("love", "dating", "relationship", "wedding", "любов", "amor", "liebe", "amour")), (1, ("favorite", "favourite", "like", "friend", "kind", "care", "loyal"))),
    "leaf": ((3, ("eco", "green", "garden", "plant", "climate", "nature", "sustainab", "экол", "сад", "jardín", "garten", "jardin")), (1, ("organic", "farm", "environment", "energy"))),
    "house": ((3, ("home", "house", "real estate", "property", "rent", "дом", "недвиж", "casa", "haus", "immobil", "maison")), (1, ("apartment", "room", "mortgage", "household"))),
    "briefcase": ((3, ("job", "career", "recruit", "hiring", "resume", "ceo", "b2b", "работ", "вакан", "карьер", "empleo", "trabajo", "beruf", "emploi")), (1, ("business", "company", "office", "professional", "executive", "decision", "contact", "hr"))),
    "globe": ((3, ("global", "world", "international", "website", "webpage", "domain", "мир", "сайт", "mundo", "welt", "monde")), (1, ("web", "internet", "online", "site", "country"))),
}
SUBJECTS: tuple[str, ...] = tuple(KEYWORDS)
FALLBACKS = ("robot", "rocket", "lightbulb", "brain", "gear")  # when no word matches: a generic agent motif

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
# Field weights: name words beat a long description's many passing mentions.
FIELD_WEIGHTS = (("name", 5), ("sub-heading", 3), ("description", 1), ("categories", 2))


@dataclass(frozen=True)
class SubjectChoice:
    subject: str
    words: tuple[str, ...]  # the words that picked it, strongest first
    source: str  # "prompt", "agent" or "fallback"

    def explain(self) -> str:
        label = self.subject.replace("graduation", "graduation cap").replace("pin", "map pin")
        if not self.words:
            return f"Subject: {label} (no keyword matched; a generic motif chosen by the name)"
        quoted = ", ".join(f"'{w}'" for w in self.words)
        where = " in the edited prompt" if self.source == "prompt" else ""
        return f"Subject: {label} (picked by {quoted}{where})"


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


# keyword -> where it appears: (subject, weight, its place in KEYWORDS). Built once, so a choice
# looks each word up instead of trying all 605 keywords on it (8 ms a choice before).
_INDEX: dict[str, list[tuple[str, int, tuple[int, int]]]] = {}
for _subject, _groups in KEYWORDS.items():
    for _g, (_weight, _keywords) in enumerate(_groups):
        for _k, _kw in enumerate(_keywords):
            _INDEX.setdefault(_kw, []).append((_subject, _weight, (_g, _k)))
_PHRASES = tuple(kw for kw in _INDEX if " " in kw)


def _keywords_matching(word: str) -> list[str]:
    # Short keywords ("ai", "map", "bot") must match whole words, or "mail" would hit "maintain";
    # longer ones match any word they start.
    candidates = [word] if len(word) <= 4 else [word[:n] for n in range(5, len(word) + 1)]
    return [kw for kw in candidates if kw in _INDEX]


def _score(fields: list[tuple[list[str], int]]) -> dict[str, tuple[float, dict[str, float]]]:
    """Per subject: total score and each matched word's contribution."""
    gains: dict[str, list[tuple[tuple, str, float]]] = {}
    for f, (words, field_weight) in enumerate(fields):
        counts = Counter(words)
        joined = " " + " ".join(words) + " "
        hits = [(kw, w, n) for w, n in counts.items() for kw in _keywords_matching(w)]
        hits += [(kw, kw, n) for kw in _PHRASES if (n := joined.count(f" {kw} "))]
        for kw, w, n in hits:
            for subject, weight, place in _INDEX[kw]:
                # A word counts once per field, with diminishing returns for repeats.
                gains.setdefault(subject, []).append(((f, *place), w, weight * field_weight * (1 + 0.25 * min(n - 1, 4))))
    out: dict[str, tuple[float, dict[str, float]]] = {}
    for subject in KEYWORDS:  # in KEYWORDS' order, each subject's words in the order they were matched
        if subject in gains:
            by_word: dict[str, float] = {}
            for _, w, gain in sorted(gains[subject], key=lambda g: g[0]):
                by_word[w] = by_word.get(w, 0) + gain
            out[subject] = (sum(by_word.values()), by_word)
    return out


def _best(scores) -> tuple[str, tuple[str, ...]] | None:
    if not scores:
        return None
    subject = max(scores, key=lambda s: (scores[s][0], -SUBJECTS.index(s)))
    by_word = scores[subject][1]
    return subject, tuple(sorted(by_word, key=lambda w: -by_word[w])[:3])


def pick_subject(*, prompt_words: list[str] = (), name: str = "", sub_heading: str = "", description: str = "", categories: str = "") -> SubjectChoice:
    """The prompt's own words win when they name a subject; otherwise the agent's text decides."""
    if prompt_words:
        found = _best(_score([(list(prompt_words), 1)]))
        if found:
            return SubjectChoice(found[0], found[1], "prompt")
    texts = {"name": name, "sub-heading": sub_heading, "description": description, "categories": categories}
    found = _best(_score([(words_of(texts[f]), w) for f, w in FIELD_WEIGHTS]))
    if found:
        return SubjectChoice(found[0], found[1], "agent")
    return SubjectChoice(FALLBACKS[zlib.crc32(name.encode()) % len(FALLBACKS)], (), "fallback")

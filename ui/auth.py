"""The page-side gate: who is here, and whether this page is theirs. One line at each page's top.

The library enforces the rules again (imagegen/auth.py); this only keeps people from pages
they cannot use and says why. Sign-in is Streamlit's own (`st.login`, OIDC), configured by an
`[auth]` section in `.streamlit/secrets.toml`; without one, the app is in local mode: one
person, the local admin, on a server bound to 127.0.0.1 (.streamlit/config.toml).
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.pages_manager import PagesManager

from imagegen.auth import Actor, Role, actor_for, local_admin
from ui.resources import workspace

def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def in_kiosk() -> bool:
    """`?kiosk=1` once seen holds for the whole session: dropping it or switching pages does not leave it."""
    if st.query_params.get("kiosk") == "1":
        st.session_state["kiosk"] = True
    return bool(st.session_state.get("kiosk"))


def current_actor() -> Actor | None:
    settings = workspace().settings
    if not sign_in_configured():
        return local_admin(settings)
    if not st.user.get("is_logged_in"):
        return None
    return actor_for(st.user.get("email"), settings, st.user.to_dict())


def through_the_app() -> None:
    """Run this page through app.py. Streamlit (1.67) starts a server in its old multipage mode
    when a `pages/` folder sits beside app.py, and leaves that mode only when app.py calls
    `st.navigation`: until someone opens `/`, a link to a page runs that page file alone, with
    Streamlit's list of page files for navigation and no page config. On a session's first run
    (a link opened, nothing clicked yet to lose) leave the mode and run again: the run goes
    through app.py, which opens the page the link names. (AppTest puts the mode back before
    every run of its own; its later runs are left as they are.)"""
    first_run = "page_seen" not in st.session_state
    st.session_state["page_seen"] = True
    if first_run and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation sets; for the whole server
        st.rerun()


def require_page(role: Literal["viewer", "curator", "admin"], *, showcase: bool = False) -> Actor | None:
    """Stop the page unless the visitor may see it. Returns the acting person (None only for
    the public Showcase seen without signing in)."""
    through_the_app()
    if in_kiosk() and not showcase:
        st.error("This screen is in kiosk mode: it shows the Showcase only.", icon=":material/lock:")
        st.stop()
    configured = sign_in_configured()
    if showcase and (in_kiosk() and not configured or workspace().settings.public_showcase):
        return current_actor()  # a stakeholder screen: the Showcase needs no sign-in when allowed
    actor = current_actor()
    if not configured:
        st.sidebar.caption("Not signed in: local mode.")
    elif not st.user.get("is_logged_in"):
        st.title("Sign in")
        st.write("Thumbnail Studio is for the team. Sign in to continue.")
        if st.button("Sign in", type="primary", key="sign_in", icon=":material/login:"):
            st.login()
        st.stop()
    elif actor is None:
        st.title("Ask an admin")
        st.text(f"You are signed in as {st.user.get('email') or 'an account without an email'}, "
                "but no role is given to that address. Ask an admin to add you as a viewer, curator or admin.")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.logout()
        st.stop()
    else:
        st.sidebar.text(f"{actor.email} · {actor.role.label}")
        if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.logout()
    if actor.role < Role[role.upper()]:
        st.error(f"This page is for {'an' if role == 'admin' else 'a'} {role} or above; "
                 f"you are {'an' if actor.role.label == 'admin' else 'a'} {actor.role.label}. Ask an admin if you need more.",
                 icon=":material/lock:")
        st.stop()
    return actor


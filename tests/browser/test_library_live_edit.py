"""An open Edit form on /library while other tabs change the library:
the draft, the caret and the focus stay; a change to the story being
edited is shown beside the form, never written over the draft."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import ARTIFACTS, sign_up
from tests.browser.test_library_pages import add_story

TAG_STORY = "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { id } }"
CREATE_TAG = 'mutation($n: String!) { createTag(name: $n, color: "#cc3300") { id } }'
LIBRARY_IDS = "{ library { stories(first: 10) { edges { node { id title } } } } }"


def api(context: BrowserContext, server, query: str, variables: dict | None = None) -> dict:
    """One operation with the tabs' own session, not through a page."""
    body = {"query": query, "variables": variables or {}}
    answer = context.request.post(f"{server.url}/graphql", data=body).json()
    assert "errors" not in answer, answer
    return answer["data"]


def story_ids(context: BrowserContext, server) -> dict[str, str]:
    edges = api(context, server, LIBRARY_IDS)["library"]["stories"]["edges"]
    return {edge["node"]["title"]: edge["node"]["id"] for edge in edges}


def caret(page: Page) -> dict:
    return page.evaluate(
        "() => ({ id: document.activeElement.id, value: document.activeElement.value,"
        " start: document.activeElement.selectionStart })"
    )


def two_tabs_editing(context: BrowserContext, server, username: str) -> tuple[Page, Page, str]:
    """Tab A with the Edit form of "First" open, a draft typed and the caret
    inside it; tab B on the same library. Returns (A, B, the title field's id)."""
    first = context.new_page()
    sign_up(first, server.url, username)
    add_story(first, "https://example.com/first", "First")
    add_story(first, "https://example.com/second", "Second")
    second = context.new_page()
    second.goto(f"{server.url}/library")
    for page in (first, second):
        expect(page.get_by_role("status")).to_contain_text("Connected")

    first.bring_to_front()
    first.get_by_role("button", name="Edit First").click()
    title = first.locator(".story form.edit input[name=title]")
    expect(title).to_be_focused()
    title.fill("First, as I see it")
    title.press("Home")
    for _ in range(5):
        title.press("ArrowRight")
    field_id = title.get_attribute("id")
    assert caret(first) == {"id": field_id, "value": "First, as I see it", "start": 5}
    return first, second, field_id


def test_an_open_edit_form_keeps_its_draft_and_caret_while_other_tabs_change_the_library(
    server, context
):
    first, second, field_id = two_tabs_editing(context, server, "drafter")

    # Tab B: a new story, another story renamed, a tag made and attached.
    second.bring_to_front()
    add_story(second, "https://example.com/third", "Third")
    second.get_by_role("button", name="Edit Second").click()
    second.locator(".story form.edit input[name=title]").fill("Second, renamed")
    second.get_by_role("button", name="Save").click()
    expect(second.get_by_text("Second, renamed")).to_be_visible()
    ids = story_ids(context, server)
    tag_id = api(context, server, CREATE_TAG, {"n": "later"})["createTag"]["id"]
    api(context, server, TAG_STORY, {"s": ids["Third"], "t": [tag_id]})

    # Tab A shows all of it, around the untouched draft.
    expect(first.get_by_role("link", name="Third")).to_be_visible()
    expect(first.get_by_role("link", name="Second, renamed")).to_be_visible()
    expect(
        first.locator(".story", has_text="Third").locator(".chip", has_text="later")
    ).to_be_visible()
    expect(first.get_by_text("3 stories")).to_be_visible()
    assert caret(first) == {"id": field_id, "value": "First, as I see it", "start": 5}
    expect(first.get_by_text("Changed in another tab")).to_have_count(0)

    # Tab B renames the story tab A is editing: A keeps the draft, and says so.
    api(
        context,
        server,
        'mutation($id: ID!) { updateStory(id: $id, title: "First, by tab B") { id } }',
        {"id": ids["First"]},
    )
    note = first.locator(".edit-note")
    expect(note).to_contain_text("Changed in another tab")
    expect(note).to_contain_text("First, by tab B")
    assert caret(first) == {"id": field_id, "value": "First, as I see it", "start": 5}
    ARTIFACTS.mkdir(exist_ok=True)
    first.screenshot(path=str(ARTIFACTS / "library-changed-in-another-tab.png"), full_page=True)

    # Their version, on request; then saving it works as usual.
    first.get_by_role("button", name="Use theirs").click()
    expect(first.locator(f"#{field_id}")).to_have_value("First, by tab B")
    expect(note).to_have_count(0)
    first.locator(f"#{field_id}").fill("First, agreed")
    first.get_by_role("button", name="Save").click()
    expect(second.get_by_role("link", name="First, agreed")).to_be_visible()


def test_keep_mine_then_save_writes_the_draft_over_the_other_tabs_change(server, context):
    first, second, field_id = two_tabs_editing(context, server, "keeper")
    ids = story_ids(context, server)
    api(
        context,
        server,
        'mutation($id: ID!) { updateStory(id: $id, description: "from B") { id } }',
        {"id": ids["First"]},
    )
    note = first.locator(".edit-note")
    expect(note).to_contain_text("Changed in another tab")
    expect(note).to_contain_text("from B")
    first.get_by_role("button", name="Keep mine").click()
    expect(note).to_have_count(0)
    expect(first.locator(f"#{field_id}")).to_have_value("First, as I see it")
    first.get_by_role("button", name="Save").click()
    expect(second.get_by_role("link", name="First, as I see it")).to_be_visible()


def test_a_story_deleted_in_another_tab_is_said_so_beside_the_open_form(server, context):
    first, second, field_id = two_tabs_editing(context, server, "deleted_under")
    ids = story_ids(context, server)
    api(context, server, "mutation($id: ID!) { deleteStory(id: $id) }", {"id": ids["First"]})

    note = first.locator(".edit-note")
    expect(note).to_contain_text("Deleted in another tab")
    expect(first.locator(f"#{field_id}")).to_have_value("First, as I see it")
    expect(first.get_by_text("1 story")).to_be_visible()
    expect(first.locator(".story form.edit").get_by_role("button", name="Save")).to_be_disabled()
    # The draft can become the story again.
    first.get_by_role("button", name="Add it again").click()
    expect(second.get_by_role("link", name="First, as I see it")).to_be_visible()
    expect(first.get_by_role("link", name="First, as I see it")).to_be_visible()
    expect(first.locator(".story form.edit")).to_have_count(0)


def test_an_open_tag_edit_keeps_its_draft_when_the_tag_changes_or_goes(server, context):
    page = context.new_page()
    sign_up(page, server.url, "tag_drafter")
    tag_id = api(context, server, CREATE_TAG, {"n": "draft-me"})["createTag"]["id"]
    expect(page.get_by_role("button", name="Edit tag draft-me")).to_be_visible()
    page.get_by_role("button", name="Edit tag draft-me").click()
    name = page.locator(".tag form.edit input[name=name]")
    expect(name).to_be_focused()
    name.fill("my name for it")

    api(context, server, CREATE_TAG, {"n": "another"})
    expect(page.get_by_role("button", name="Show stories tagged another")).to_be_visible()
    expect(name).to_be_focused()
    expect(name).to_have_value("my name for it")

    api(
        context,
        server,
        'mutation($id: ID!) { updateTag(id: $id, name: "their name") { id } }',
        {"id": tag_id},
    )
    note = page.locator(".tag .edit-note")
    expect(note).to_contain_text("Changed in another tab")
    expect(note).to_contain_text("their name")
    expect(name).to_have_value("my name for it")

    api(context, server, "mutation($id: ID!) { deleteTag(id: $id) }", {"id": tag_id})
    expect(note).to_contain_text("Deleted in another tab")
    expect(name).to_have_value("my name for it")
    page.get_by_role("button", name="Create it again").click()
    expect(page.get_by_role("button", name="Show stories tagged my name for it")).to_be_visible()
    expect(page.locator(".tag form.edit")).to_have_count(0)

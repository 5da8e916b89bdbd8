#!/usr/bin/python3
"""The approval portal in a real browser (headless Chromium through Selenium)
against a real cluster, its mail worker and the test SMTP server.

Run by test/run (layer portal) on a cluster of its own whose pg_hba.conf
asks every role but postgres for its password (so that signing in is
signing in). Prints TAP; exits non-zero when a check fails.

  browser_test.py --pghost DIR --pgport N --database DB --maildir DIR
                  --workdir DIR --screenshot FILE
"""

import argparse
import os
import re
import sys

import psycopg
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "smtp"))
sys.path.insert(0, os.path.join(ROOT, "test", "portal"))
import mailbox as mb  # noqa: E402  (test/smtp/mailbox.py, not the stdlib's)
from portal_helpers import Client, Portal  # noqa: E402

PASSWORD = "portal-test-password"
HOSTILE = '<b id="hostile">bold</b><script>document.title = "script ran"</script> & "quotes"'
# A table whose name is HTML: the statement, its target and the lists show it as text.
HOSTILE_TABLE = '<i id="hostile-name">t</i>'
HOSTILE_IDENTIFIER = '"' + HOSTILE_TABLE.replace('"', '""') + '"'
CODE_LINE = re.compile(r"one-time code: ([0-9]{6})")

failures = 0
number = 0


def check(ok, name, detail=""):
    global failures, number
    number += 1
    print(f"{'ok' if ok else 'not ok'} {number} - {name}", flush=True)
    if not ok:
        failures += 1
        for line in str(detail).splitlines()[:40]:
            print(f"#   {line}", flush=True)
    return ok


def browser(workdir):
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--ignore-certificate-errors", "--window-size=1100,1300",
                f"--user-data-dir={os.path.join(workdir, 'chromium')}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def set_up(args):
    """Roles with passwords, a team of bob and carol, tables a dba may only drop with their approval, requests."""
    home = psycopg.connect(host=args.pghost, port=args.pgport, dbname="postgres", user="postgres", autocommit=True)
    home.execute(f"CREATE DATABASE {args.database}")
    db = psycopg.connect(host=args.pghost, port=args.pgport, dbname=args.database, user="postgres", autocommit=True)
    db.execute("CREATE EXTENSION pg_mpa")
    for role, extra in (("dba", "SUPERUSER"), ("bob", ""), ("carol", ""), ("dave", ""), ("erin", ""), ("frank", "")):
        db.execute(f"CREATE ROLE {role} LOGIN {extra} PASSWORD '{PASSWORD}'")
    db.execute("""
      CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric);
      CREATE VIEW public.account_totals AS SELECT owner, sum(balance) FROM public.accounts GROUP BY owner;
      CREATE TABLE public.old_orders (id int);
      CREATE TABLE public.scratch (id int);
      CREATE TABLE public.guessed (id int);""")
    db.execute(f"CREATE TABLE public.{HOSTILE_IDENTIFIER} (id int)")
    db.execute("SELECT mpa_team_create('ops', 1, 'one approval for drops')")
    db.execute("SELECT mpa_approver_add('ops', 'bob', 'bob@example.com')")
    db.execute("SELECT mpa_approver_add('ops', 'carol', 'carol@example.com')")
    # The requester is on the team too: never among those who can vote on his own requests.
    db.execute("SELECT mpa_approver_add('ops', 'dba', 'dba@example.com')")
    db.execute("SELECT mpa_protect('DROP TABLE', 'public.*', 'ops')")
    # Several teams (#22): hr's tables need ops and security (erin), each its threshold.
    db.execute("SELECT mpa_team_create('security', 1, 'security review')")
    db.execute("SELECT mpa_approver_add('security', 'erin', 'erin@example.com')")
    db.execute("CREATE SCHEMA hr; CREATE TABLE hr.payroll (id int)")
    db.execute("SELECT mpa_protect('DROP TABLE', 'hr.*', teams => ARRAY['ops', 'security'])")
    # Break-glass (#22): frank, in no other team, may approve alone once the glass is broken.
    db.execute("SELECT mpa_team_create('oncall', 1, 'night emergencies')")
    db.execute("SELECT mpa_approver_add('oncall', 'frank', 'frank@example.com')")
    db.execute("SELECT mpa_break_glass_team('oncall', 1)")
    # A request for another database's table (described there, voted on here).
    home.execute("CREATE DATABASE billing")
    with psycopg.connect(host=args.pghost, port=args.pgport, dbname="billing", user="postgres",
                         autocommit=True) as billing:
        billing.execute("CREATE TABLE public.invoices (id int); "
                        "CREATE VIEW public.invoice_totals AS SELECT count(*) FROM public.invoices")
    db.execute("SELECT mpa_protect('DROP TABLE', 'public.invoices', 'ops', database => 'billing')")
    # A look-alike of a function the portal's queries use, first on bob's
    # search_path: what bob is shown must not depend on it.
    db.execute("CREATE SCHEMA lookalike; CREATE FUNCTION lookalike.jsonb_pretty(jsonb) RETURNS text "
               "LANGUAGE sql AS $$SELECT 'forged payload'$$; GRANT USAGE ON SCHEMA lookalike TO PUBLIC; "
               "ALTER ROLE bob SET search_path = lookalike, pg_catalog, public")
    dba = psycopg.connect(host=args.pghost, port=args.pgport, dbname=args.database, user="dba",
                          password=PASSWORD, autocommit=True)
    ids = {}
    for name, statement, why in (
            ("accounts", "DROP TABLE public.accounts CASCADE", "Ledger migrated to the new system (ticket OPS-1234)"),
            ("old_orders", "DROP TABLE public.old_orders", "Replaced by orders_v2"),
            ("guessed", "DROP TABLE public.guessed", "Someone guesses bob's codes here"),
            ("payroll", "DROP TABLE hr.payroll", "payroll moved to the HR system"),
            ("scratch", "DROP TABLE public.scratch", "the disk fills with scratch data"),
            ("hostile", f"DROP TABLE public.{HOSTILE_IDENTIFIER}", HOSTILE)):
        ids[name] = dba.execute("SELECT mpa_request(%s, %s)", (statement, why)).fetchone()[0]
    ids["billing"] = dba.execute("SELECT mpa_request('DROP TABLE public.invoices CASCADE', 'billing moved', "
                                 "database => 'billing')").fetchone()[0]
    ids["action"] = dba.execute("SELECT mpa_request_action('ops', 'refund', '{\"amount\": 5000}', "
                                "'a refund above the limit')").fetchone()[0]
    return db, ids


def loaded(driver):
    return driver.execute_script("return document.readyState") == "complete"


def gone(element):
    """The page of `element` was replaced. (Selenium's staleness_of expects
    StaleElementReferenceException; this Chromium sometimes answers "Node
    with given id does not belong to the document" instead.)"""
    def replaced(_):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True
    return replaced


def click(driver, element_id):
    """Clicks a submit button and waits for the page it leads to, loaded."""
    WebDriverWait(driver, 30).until(loaded)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    try:
        WebDriverWait(driver, 30).until(gone(page))
        WebDriverWait(driver, 30).until(loaded)
    except TimeoutException:
        pass   # no new page (a navigation blocked, say): the check that follows says what is shown


def sign_in(driver, portal, user, password=PASSWORD, page="/signin"):
    driver.delete_all_cookies()
    driver.get(portal.url + page)
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    click(driver, "signin")


def text_of(driver, element_id):
    found = driver.find_elements(By.ID, element_id)
    return found[0].text if found else ""


def code_for(args, address, after):
    """The code of the newest code mail to `address` stored after the file `after` (polled).
    ("your code to approve|reject request #N": not the notice "your code for … no
    longer works" that a dead code sends, which may arrive after `after`.)"""
    m = mb.wait_for(lambda: mb.newest(args.maildir, to=address, subject_contains="your code to ", after=after), 60)
    if m is None:
        return None
    found = CODE_LINE.search(mb.body_text(m.msg))
    return found.group(1) if found else None


def last_mail(args):
    m = mb.newest(args.maildir)
    return m.file if m else None


def approve_with_mailed_code(args, driver, address):
    """On a request's page: Approve, then the code from the mail to `address`,
    entered. False when the page offers no vote (the check that follows fails)."""
    if not driver.find_elements(By.ID, "approve"):
        return False
    before = last_mail(args)
    click(driver, "approve")
    driver.find_element(By.ID, "code").send_keys(code_for(args, address, before) or "000000")
    click(driver, "verify")
    return True


def connect_as(args, role):
    return psycopg.connect(host=args.pghost, port=args.pgport, dbname=args.database, user=role,
                           password=PASSWORD, autocommit=True)


def main():
    parser = argparse.ArgumentParser()
    for option in ("--pghost", "--pgport", "--database", "--maildir", "--workdir", "--screenshot"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    db, ids = set_up(args)
    portal = Portal(args.workdir, args.pghost, args.pgport, args.database, signin_failures_per_user=3)
    driver = browser(args.workdir)
    try:
        run_checks(args, db, ids, portal, driver)
    finally:
        driver.quit()
        portal.stop()
    print(f"1..{number}")
    return 1 if failures else 0


def run_checks(args, db, ids, portal, driver):
    # Headers a browser enforces: no script may run (not even inline), no framing.
    status, headers, _ = Client(portal).get("/signin")
    csp = headers.get("Content-Security-Policy", "")
    check(status == 200 and "default-src 'self'" in csp and "script-src 'none'" in csp and "unsafe-inline" not in csp,
          "the sign-in page forbids every script by its Content-Security-Policy", f"{status} {csp!r}")

    # Signing in is PostgreSQL's: a wrong password does not open a session.
    sign_in(driver, portal, "bob", "not the password")
    check("sign-in failed" in text_of(driver, "signin-message") and not driver.get_cookie("__Host-mpa_session"),
          "a wrong password is refused", driver.page_source)

    # postgres may connect without a password here (trust): the portal does
    # not take a connection the server did not check a password for.
    sign_in(driver, portal, "postgres", "anything")
    check("sign-in failed" in text_of(driver, "signin-message") and not driver.get_cookie("__Host-mpa_session"),
          "a role the server lets in without checking its password cannot sign in", driver.page_source)

    # Sign-in attempts are rate-limited per user name (3 in this test's
    # configuration): after three failures even the right password is
    # refused without reaching the server.
    for _ in range(3):
        sign_in(driver, portal, "dave", "wrong")
    sign_in(driver, portal, "dave")
    check("Too many failed sign-ins" in text_of(driver, "signin-message"),
          "after three failed sign-ins of dave, his right password is refused too", driver.page_source)

    # bob follows a mail's link to a request: he signs in and lands on it.
    sign_in(driver, portal, "bob", page=f"/requests/{ids['accounts']}")
    check(driver.current_url == f"{portal.url}/requests/{ids['accounts']}",
          "a request's link leads through the sign-in to the request", driver.current_url)
    # Only to a request's page: not to another site.
    sign_in(driver, portal, "bob", page="/signin?next=https://attacker.example/")
    check(driver.current_url == f"{portal.url}/", "sign-in leads nowhere but the portal's pages", driver.current_url)

    # bob is signed in; his session cookie is out of reach of scripts and other sites.
    cookie = driver.get_cookie("__Host-mpa_session") or {}
    check(text_of(driver, "signed-in-as") == "bob", "bob signs in with his database password", driver.page_source)
    check(cookie.get("secure") and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
          "the session cookie is Secure, HttpOnly and SameSite=Strict", cookie)

    # What waits for him: the requests of his team, the application action too.
    driver.get(portal.url + "/")
    pending = text_of(driver, "pending")
    check(f"#{ids['accounts']}" in pending and "DROP TABLE public.accounts" in pending
          and "action refund" in pending,
          "bob's waiting list shows the dba's requests and the application action", pending)

    # An application action's page shows the action and its payload.
    driver.get(f"{portal.url}/requests/{ids['action']}")
    check(text_of(driver, "action") == "refund" and '"amount": 5000' in text_of(driver, "statement"),
          "an application action's page shows the action and its payload (not a look-alike's on bob's path)",
          driver.page_source)

    # A request for another database names it, and what the drop removes there.
    check(f"#{ids['billing']}" in pending and "billing" in pending, "the waiting list names another database's request's database",
          pending)
    driver.get(f"{portal.url}/requests/{ids['billing']}")
    check(text_of(driver, "database") == "billing" and "invoice_totals" in text_of(driver, "also-removes"),
          "another database's request shows that database and what the drop also removes there", driver.page_source)

    # Unknown and out-of-range request ids are "not found", not a server error.
    driver.get(f"{portal.url}/requests/987654")
    unknown = driver.title
    driver.get(f"{portal.url}/requests/99999999999999999999999")
    check(unknown.startswith("Not Found") and driver.title.startswith("Not Found"),
          "an unknown or out-of-range request id is not found", (unknown, driver.title))

    # The request page: statement, justification, requester, what the drop also removes.
    driver.get(f"{portal.url}/requests/{ids['accounts']}")
    check(text_of(driver, "statement") == "DROP TABLE public.accounts CASCADE"
          and "OPS-1234" in text_of(driver, "justification") and text_of(driver, "requester") == "dba"
          and "account_totals" in text_of(driver, "also-removes") and text_of(driver, "database") == args.database,
          "the request page shows the statement, justification, requester, database and what the drop also removes",
          driver.page_source)

    # Who may still vote: the team but the requester (dba); nobody has voted yet.
    check(text_of(driver, "still-can-vote") == "bob, carol" and not driver.find_elements(By.ID, "votes"),
          "before any vote, bob and carol can still vote", text_of(driver, "still-can-vote"))

    # Approve: the code goes by mail; the page says where (masked) and until when.
    before = last_mail(args)
    click(driver, "approve")
    sent_to = text_of(driver, "sent-to")
    masked = db.execute("SELECT detail->>'to' FROM mpa.audit WHERE request_id = %s AND kind = 'challenge opened' "
                        "ORDER BY id DESC LIMIT 1", (ids["accounts"],)).fetchone()[0]
    check(sent_to == masked and sent_to.startswith("b") and "@" in sent_to and "bob@example.com" not in driver.page_source,
          "approving says where the code went, masked as pg_mpa masks it", f"{sent_to!r} {masked!r}")
    driver.save_screenshot(args.screenshot)
    code = code_for(args, "bob@example.com", before)
    check(code is not None, "bob's code arrives by mail")
    driver.find_element(By.ID, "code").send_keys(code or "000000")
    click(driver, "verify")
    check(text_of(driver, "state") == "approved" and "the request is approved" in text_of(driver, "notice"),
          "bob enters the code from the mail and the request is approved", driver.page_source)
    # The vote, and this request's audit entries, are on its page.
    audit = text_of(driver, "audit")
    check(text_of(driver, "votes").startswith("bob: approve") and "challenge opened" in audit and "vote" in audit,
          "the request page shows bob's vote and the request's audit entries", audit)
    # The code was posted, never put in a URL, and is not shown again nor logged.
    check(code and code not in driver.current_url and code not in driver.page_source,
          "the code is in neither the URL nor the page after it was entered", driver.current_url)
    log = portal.log_text()
    check(code and f"POST /requests/{ids['accounts']}/verify" in log and code not in log,
          "the portal's logs show the code's POST but not the code", log[-2000:])

    # carol enters a wrong code three times: told the tries left, then that the code is dead.
    sign_in(driver, portal, "carol")
    driver.get(f"{portal.url}/requests/{ids['old_orders']}")
    before = last_mail(args)
    click(driver, "approve")
    code = code_for(args, "carol@example.com", before) or "000000"
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    said = []
    for _ in range(3):
        driver.find_element(By.ID, "code").send_keys(wrong)
        click(driver, "verify")
        said.append(text_of(driver, "notice"))
    check("2 tries left" in said[0] and "1 try left" in said[1],
          "each wrong code tells carol how many tries are left", said)
    check("This code is dead" in said[2], "the third wrong code tells carol the code is dead", said)
    driver.find_element(By.ID, "code").send_keys(code)
    click(driver, "verify")
    check(text_of(driver, "state") == "pending", "the dead code's right value no longer counts",
          text_of(driver, "notice"))

    # Resend: a new code by mail, and that one counts.
    before = last_mail(args)
    click(driver, "resend")
    code = code_for(args, "carol@example.com", before)
    check(code is not None and text_of(driver, "sent-to").startswith("c"),
          "resend mails carol a new code and says where", driver.page_source)
    driver.find_element(By.ID, "code").send_keys(code or "000000")
    click(driver, "verify")
    check(text_of(driver, "state") == "approved", "carol's resent code approves the request",
          text_of(driver, "notice"))

    # A hostile justification is text: no element of it, no script run.
    driver.get(f"{portal.url}/requests/{ids['hostile']}")
    check(not driver.find_elements(By.ID, "hostile") and text_of(driver, "justification") == HOSTILE
          and driver.title != "script ran",
          "a justification of HTML and script shows as text", driver.page_source)
    check(not driver.find_elements(By.ID, "hostile-name") and text_of(driver, "statement") == f"DROP TABLE public.{HOSTILE_IDENTIFIER}",
          "a statement naming a table whose name is HTML shows as text", driver.page_source)

    # A form posted without its CSRF token is refused, and nothing is done.
    driver.execute_script("document.querySelector('form.decide input[name=csrf]').remove()")
    click(driver, "approve")
    opened = db.execute("SELECT count(*) FROM mpa.challenges WHERE request_id = %s", (ids["hostile"],)).fetchone()[0]
    check("Forbidden" in driver.title and "CSRF" in text_of(driver, "error") and opened == 0,
          "a vote posted without its CSRF token is refused and opens no code",
          f"title {driver.title!r}, codes opened {opened}")

    # Wrong codes on three codes in a row lock bob out of a request (3 codes
    # of 3 tries each by default), and he is told so.
    sign_in(driver, portal, "bob", page=f"/requests/{ids['guessed']}")
    said = ""
    for attempt in range(3):
        before = last_mail(args)
        click(driver, "approve" if attempt == 0 else "resend")
        code = code_for(args, "bob@example.com", before) or "000000"
        for _ in range(3):
            driver.find_element(By.ID, "code").send_keys(f"{(int(code) + 1) % 1000000:06d}")
            click(driver, "verify")
    said = text_of(driver, "notice")
    check("You are locked out of this request" in said, "the ninth wrong code tells bob he is locked out", said)

    several_teams_and_break_glass(args, ids, portal, driver)

    # The requester sees his own requests and cancels one. A request of
    # two teams names both, with its tally per team (bob approved for ops).
    sign_in(driver, portal, "dba")
    check(f"#{ids['hostile']}" in text_of(driver, "mine"), "the dba sees his own requests", driver.page_source)
    payroll = text_of(driver, f"mine-{ids['payroll']}")
    check("ops, security" in payroll and "1 of 1 from ops, 0 of 1 from security" in payroll,
          "the requester's two-team request names both teams and each one's tally", payroll)
    driver.get(f"{portal.url}/requests/{ids['hostile']}")
    click(driver, "cancel")
    check(text_of(driver, "state") == "cancelled", "the dba cancels his request", driver.page_source)

    # Signing out ends the session in the portal, not only in the browser:
    # its cookie, replayed, no longer opens a page.
    session_cookie = driver.get_cookie("__Host-mpa_session")
    click(driver, "signout")
    driver.add_cookie({k: session_cookie[k] for k in ("name", "value", "path", "secure", "httpOnly", "sameSite")})
    driver.get(f"{portal.url}/requests/{ids['hostile']}")
    check(driver.current_url.startswith(f"{portal.url}/signin"),
          "after signing out, the session's cookie replayed opens nothing", driver.current_url)

    on_version_0_1(args, db, portal, driver)


def several_teams_and_break_glass(args, ids, portal, driver):
    """Issue #22 on the portal: a request of two teams shows each team's
    tally and reaches every team's approvers; break-glass shows while open
    (who, why, quorum), reaches its members, and its review after."""
    payroll, scratch = ids["payroll"], ids["scratch"]
    # bob (ops) approves the hr request: ops has its one vote, security none.
    # The lines are mpa_request_tally's, per team, the first team first.
    sign_in(driver, portal, "bob", page=f"/requests/{payroll}")
    voted = approve_with_mailed_code(args, driver, "bob@example.com")
    lines = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#tally li")]
    check(voted and text_of(driver, "state") == "pending" and lines == ["1 of 1 from ops", "0 of 1 from security"],
          "a two-team request's page shows each team's tally after one vote, the first team first",
          f"{text_of(driver, 'state')} {lines}")
    # Who may still vote is every team's: carol of ops, erin of security.
    check(text_of(driver, "still-can-vote") == "carol, erin",
          "who can still vote on a two-team request includes the second team's approver",
          text_of(driver, "still-can-vote"))

    # erin is an approver of the second team only: the request waits for her.
    sign_in(driver, portal, "erin")
    pending = text_of(driver, "pending")
    check(f"#{payroll}" in pending and "1 of 1 from ops, 0 of 1 from security" in pending,
          "an approver of only the second team sees the request, with its tally per team, in her waiting list",
          pending)

    # frank is in the break-glass team only: nothing waits for him until he
    # breaks the glass on a request (the list is not everything pending).
    sign_in(driver, portal, "frank")
    check(f"#{scratch}" not in text_of(driver, "pending"),
          "before break-glass, a member of the break-glass team only is not asked", text_of(driver, "pending"))
    with connect_as(args, "frank") as frank:
        frank.execute("SELECT mpa_break_glass(%s, 'the disk is full in minutes')", (scratch,))
    driver.get(portal.url + "/")
    pending = text_of(driver, "pending")
    check(f"#{scratch}" in pending and "break-glass open" in pending,
          "once break-glass is open, its member sees the request in his waiting list, flagged", pending)
    driver.get(f"{portal.url}/requests/{scratch}")
    use = text_of(driver, "break-glass-use")
    check(use.startswith("break-glass open by frank") and "the disk is full in minutes" in use
          and "team oncall may approve it with 1 vote" in use,
          "a break-glass-opened request's page says break-glass is open, by whom, why and with what quorum", use)
    check("frank (break-glass)" in text_of(driver, "still-can-vote"),
          "who can still vote includes the break-glass team's members once it is open",
          text_of(driver, "still-can-vote"))

    # frank's vote (with his code) is the quorum: approved by break-glass,
    # its review due; then carol, of ops, who took no part, confirms it.
    voted = approve_with_mailed_code(args, driver, "frank@example.com")
    check(voted and text_of(driver, "state") == "approved" and text_of(driver, "break-glass")
          and text_of(driver, "break-glass-review").startswith("not reviewed yet: due by"),
          "approved by break-glass, the page says the review is due and by when",
          f"{text_of(driver, 'state')} {text_of(driver, 'break-glass-review')!r}")
    # frank opened the break-glass and voted: mpa_review would refuse him,
    # so his page offers him no review.
    check(not driver.find_elements(By.ID, "review-note"),
          "the member who broke the glass and voted is offered no review form", driver.page_source)

    # The dba is an approver of ops too, but requested it: no review for him.
    dba = Client(portal)
    dba.sign_in("dba", PASSWORD)
    _, _, dbas_page = dba.get(f"/requests/{scratch}")
    check("not reviewed yet: due by" in dbas_page and 'id="review-note"' not in dbas_page,
          "the requester, an approver of the request's team, is offered no review form", dbas_page[-2000:])

    # bob, of ops, took no part: his page offers the review (a plain client,
    # to keep a page of his open while carol reviews in the browser).
    bob = Client(portal)
    bob.sign_in("bob", PASSWORD)
    _, _, bobs_page = bob.get(f"/requests/{scratch}")
    # The CSRF check is every POST's (load_session): the review's is no
    # exception. Refused before pg_mpa is asked, so carol's review below is
    # the first.
    status, _, said = bob.request("POST", f"/requests/{scratch}/review", {"verdict": "dispute", "note": "forged"})
    check('id="review-note"' in bobs_page and status == 403 and "CSRF" in said,
          "an approver who took no part is offered the review, and a review posted without its CSRF token is refused",
          f"{status} {said[-300:]}")

    # carol reviews from the page; her note, HTML and script, shows as text.
    note = "the disk was full; " + HOSTILE
    sign_in(driver, portal, "carol", page=f"/requests/{scratch}")
    if driver.find_elements(By.ID, "review-note"):
        driver.find_element(By.ID, "review-note").send_keys(note)
        click(driver, "review-confirm")
    review = text_of(driver, "break-glass-review")
    check(review.startswith("reviewed: confirm by carol") and note in review
          and text_of(driver, "notice") == f"request {scratch} reviewed: confirm"
          and not driver.find_elements(By.ID, "review-note"),
          "carol confirms the break-glass approval from its page, which then says who reviewed it and what they found",
          f"{review!r} {text_of(driver, 'notice')!r}")
    check(not driver.find_elements(By.ID, "hostile") and driver.title != "script ran",
          "a review note of HTML and script shows as text", driver.page_source)

    # bob's page, still open, posts his review after hers: pg_mpa refuses
    # it (once), and the page says so with pg_mpa's SQLSTATE.
    bob.request("POST", f"/requests/{scratch}/review", {"csrf": bob.csrf(bobs_page), "verdict": "dispute",
                                                        "note": "too late"})
    _, _, page = bob.get(f"/requests/{scratch}")
    check(f"request {scratch} is already reviewed (MP004)" in page and "reviewed: <strong>confirm</strong> by carol" in page,
          "a review after another is refused with pg_mpa's message and SQLSTATE, the first one kept", page[-3000:])


def on_version_0_1(args, db, portal, driver):
    """The portal serves an installation still on 0.1's SQL objects (after a
    package upgrade, before ALTER EXTENSION UPDATE): no mpa_request_tally,
    mpa.request_teams, break-glass. Last: it replaces this database's pg_mpa
    (ungoverned here, DROP EXTENSION is free) with a fresh 0.1."""
    db.execute("DROP EXTENSION pg_mpa CASCADE")
    db.execute("CREATE EXTENSION pg_mpa VERSION '0.1'")
    db.execute("SELECT mpa_team_create('ops', 1, 'one approval for drops')")
    for role in ("bob", "carol"):
        db.execute("SELECT mpa_approver_add('ops', %s, %s)", (role, f"{role}@example.com"))
    db.execute("SELECT mpa_protect('DROP TABLE', 'public.*', 'ops')")
    with connect_as(args, "dba") as dba:
        old = dba.execute("SELECT mpa_request('DROP TABLE public.guessed', 'on 0.1')").fetchone()[0]
    sign_in(driver, portal, "bob")
    pending = text_of(driver, "pending")
    driver.get(f"{portal.url}/requests/{old}")
    check(f"#{old}" in pending and "0 of 1" in pending and text_of(driver, "team") == "ops (1 approval needed)"
          and text_of(driver, "still-can-vote") == "bob, carol",
          "on 0.1's schema, the waiting list and the request page show the one team as before",
          f"{pending!r} {driver.title!r} {text_of(driver, 'team')!r} {text_of(driver, 'still-can-vote')!r}")


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark's report: the table printed and written to ``<results>/latest.txt``."""

import datetime
import os
import platform
import statistics

from engine import DISPATCHERS, percentile
from harness import (
    ENGINE_SETTINGS,
    LATENCY_SPACING,
    LATENCY_TIMEOUT,
    addon_revision,
    median,
    ms,
    p90,
    ratio,
)


def cron_pause(result):
    """The part of a commit -> receipt figure that is Odoo's own pause: after each wake-up,
    its cron worker sleeps ``pid / 100 mod 0.1`` s (so that its workers do not all wake at
    once), 0 to 100 ms depending on the worker's pid."""
    workers = result.get("cron_workers") or {}
    if len(workers) != 1:
        found = ", ".join(f"pid {pid}: {ms(pause)} ms" for pid, pause in workers.items())
        return f"      Odoo's cron workers' pause after a wake-up: {found or 'no worker found'}"
    [(pid, pause)] = workers.items()
    return (
        f"      of which Odoo's cron worker (pid {pid}) pauses {ms(pause)} ms after each"
        f" wake-up (pid / 100 mod 0.1 s); median less that pause:"
        f" {ms(median(result['from_commit']) - pause)} ms"
    )


def report(self):
    import odoo.release  # noqa: PLC0415

    lines = []
    add = lines.append
    n = self.n

    def row(label, *cells, width=40, cell=12):
        add("   " + f"{label:<{width}}" + "".join(f"{c:>{cell}}" for c in cells))

    def err(name):
        result = self.results.get(name, {"error": "not run"})
        if "error" in result:
            add(f"   NOT MEASURED: {result['error']}")
            return None
        return result

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = f"{self.load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    quick = "  (QUICK: small samples, figures unstable)" if self.args.quick else ""
    add("=" * 104)
    add(f"api_sync benchmark  {now}  Odoo {odoo.release.version}  db {self.args.db}{quick}")
    add(f"addon: {addon_revision()}")
    add(f"host {platform.node()}: {os.cpu_count()} CPUs; load average {load}")
    add(f"measurements took {self.elapsed:.0f} s (after the install of the database)")
    add("server: odoo --workers=2 --max-cron-threads=1 --log-level=warn, 127.0.0.1, no proxy")
    add("HTTP figures: sequential requests on one keep-alive requests.Session (Odoo's prefork")
    add("workers close the connection after each answer), after warm-up; the variants of a")
    add("figure are interleaved request by request. ratio = api_sync / reference")
    add("Tokens: api_sync 'JWT' = access token of POST /auth/login as admin; 'API key' = an")
    add("Odoo API key of admin (res.users.apikeys), also used for every /json/2 call.")
    for note in self.notes:
        add(f"Note: {note}")
    add("=" * 104)

    add("")
    add("1. Authentication cost (issue 2): GET /api/sync/v1/auth/verify vs Odoo's own")
    add("   POST /json/2/res.users/context_get")
    r = err("auth")
    if r:
        s = {key: median(values) for key, values in r["samples"].items()}
        row(f"{r['n']} requests each", "median ms", "p90 ms", "vs json/2")
        for key, label in (
            ("verify_jwt", "api_sync /auth/verify, JWT"),
            ("verify_key", "api_sync /auth/verify, API key"),
            ("json2", "json/2 context_get, API key"),
            ("ping", "api_sync /ping (no auth, reference)"),
        ):
            row(label, ms(s[key]), ms(p90(r["samples"][key])), ratio(s[key], s["json2"]))
        jwt_cost = ms(s["verify_jwt"] - s["ping"])
        key_cost = ms(s["verify_key"] - s["ping"])
        add(f"   authentication alone (verify - ping): JWT {jwt_cost} ms, API key {key_cost} ms")

    add("")
    add(f"2. Batch create of {n['batch_size']} res.partner (issue 3): name, email, phone, city;")
    add("   median of runs, one transaction each")
    r = err("batch")
    if r:
        s, size = r["samples"], r["size"]
        orm, batch, json2 = (median(s[k]) for k in ("orm", "batch", "json2"))
        row(f"{r['runs']} runs (+1 warm-up)", "total ms", "per rec. us", "vs ORM", "vs json/2")
        for label, value in (
            ("in-process ORM create+flush+commit", orm),
            ("api_sync POST /batch (transaction, JWT)", batch),
            ("json/2 res.partner/create (API key)", json2),
        ):
            per_record = f"{value / size * 1e6:.0f}"
            row(label, ms(value), per_record, ratio(value, orm), ratio(value, json2))
        add(f"   target: api_sync batch <= 1.20x the ORM per record -> {ratio(batch, orm)}")

    add("")
    add("3. Single operations on res.partner (issue 3)")
    r = err("single")
    if r:
        head = ("api_sync JWT", "api_sync key", "json/2 key", "JWT/json2", "key/json2")
        row(f"{r['n']} requests each, median ms", *head, width=30, cell=13)
        for op, label in (
            ("create", "create (1 record)"),
            ("read", "read one (name,email)"),
            ("update", "update (PUT, city)"),
            ("search", "search 50 (name,email)"),
        ):
            s = r["ops"][op]
            jwt, key, ref = median(s["jwt"]), median(s["key"]), median(s["json2"])
            cells = (ms(jwt), ms(key), ms(ref), ratio(jwt, ref), ratio(key, ref))
            row(label, *cells, width=30, cell=13)
        add("   json/2 calls: create {vals_list: [1 record]}, read {ids, fields},")
        add("   write {ids, vals}, search_read {domain: [], fields, limit: 50}.")
        add("   target: no slower than json/2 (<= 1.00x)")

    add("")
    add("4. Outbox overhead on Odoo's write path (issue 4): in-process")
    add("   product.product.write({'default_code': ...}) + commit, one transaction per write")
    r = err("outbox")
    if r:
        s = r["samples"]
        med = {key: median(values) for key, values in s.items()}
        mean = {key: statistics.fmean(values) for key, values in s.items()}
        hooks = f"{r['webhooks']} active subscriptions (record.updated)"
        row(f"{r['n']} writes each", "median ms", "mean ms", "p90 ms", width=44)
        for key, label in (("none", "no subscription"), ("subs", hooks)):
            row(label, ms(med[key]), ms(mean[key]), ms(p90(s[key])), width=44)
        by_median = ratio(med["subs"], med["none"])
        by_mean = ratio(mean["subs"], mean["none"])
        add(f"   ratio with/without: {by_median} (medians), {by_mean} (means); target <= 1.15x")
        add(f"   (blocks of {n['outbox_block']} writes alternate between the two cases; the")
        add("   server's dispatch cron is kept from running meanwhile: the outbox is written,")
        add("   cron trigger included, nothing is sent)")

    add("")
    add("5. Webhook delivery to a local receiver on 127.0.0.1 (issues 4 and 8)")
    for name in ("throughput_20", "throughput_200"):
        r = err(name)
        if r:
            add(
                f"   a. throughput, receiver answering in {r['latency_ms']} ms: {r['queued']}"
                f" queued ({n['webhooks']} subscriptions), {r['received']} received in"
            )
            add(
                f"      {r['elapsed']:.1f} s: {r['rate']:.0f} deliveries/s"
                f" (first->last receipt: {r['span_rate'] or 0:.0f}/s), {r['duplicates']}"
                f" duplicates, dispatcher errors {r['errors']}"
            )
            ceiling = r.get("ceiling")
            if ceiling:
                add(
                    f"      the receiver's own limit (plain requests pool,"
                    f" {ceiling['in_flight']} in flight, no database):"
                    f" {ceiling['rate']:.0f}/s; ratio {r['rate'] / ceiling['rate']:.2f}"
                )
    add(
        f"      ({DISPATCHERS} in-process dispatcher runs, settings {ENGINE_SETTINGS};"
        " targets >= 200/s at 20 ms, >= 100/s at 200 ms)"
    )
    r = err("hanging")
    if r:
        add("   c. healthy sink (20 ms) while another hangs (answers after 15 s > timeout):")
        add(
            f"      {r['n']} deliveries, commit -> receipt p50 {ms(r['p50'])} ms,"
            f" p99 {ms(r['p99'])} ms, max {ms(r['max'])} ms (target p99 < 5000 ms);"
            f" missing {r['missing']}, errors {r['errors']}"
        )
    r = err("latency")
    if r:
        lat = r["from_commit"]
        worst = ms(max(lat)) if lat else "n/a"
        add("   b. commit -> receipt through the running server's cron (triggered at commit):")
        add("      PUT /res.partner/{id} with a res.partner subscription (POST /webhooks),")
        add(f"      {r['n']} samples, one at a time, {LATENCY_SPACING} s apart")
        add(f"      median {ms(median(lat))} ms, p90 {ms(p90(lat))} ms, max {worst} ms")
        add("      (target < 2000 ms)")
        add(f"      from the request being sent: median {ms(median(r['from_send']))} ms;")
        add(f"      deliveries not received within {LATENCY_TIMEOUT} s (left out): {r['late']}")
        add(cron_pause(r))
    r = err("latency_busy")
    if r:
        lat = r["from_commit"]
        add(
            f"   d. the same while the cron dispatches a backlog of {r['backlog']} deliveries"
            f" to 20 ms receivers ({r['backlog_done']} done by the end):"
        )
        add(
            f"      median {ms(median(lat))} ms, p90 {ms(p90(lat))} ms, p99"
            f" {ms(percentile(lat, 0.99))} ms, max {ms(max(lat))} ms; late {r['late']}"
        )
    add("=" * 104)
    return "\n".join(lines)

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

CREATE TABLE runs (
    id INTEGER NOT NULL,
    site TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
    pages INTEGER DEFAULT 0 NOT NULL,
    targets INTEGER DEFAULT 0 NOT NULL,
    findings INTEGER DEFAULT 0 NOT NULL,
    config_digest TEXT DEFAULT '' NOT NULL,
    error TEXT DEFAULT '' NOT NULL,
    pid INTEGER,
    hostname TEXT,
    stats TEXT DEFAULT '{}' NOT NULL,
    PRIMARY KEY (id)
);

CREATE INDEX runs_site ON runs (site, id);

CREATE TABLE pages (
    run_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    status INTEGER,
    final_url TEXT,
    redirects TEXT DEFAULT '[]' NOT NULL,
    latency_s REAL,
    size INTEGER,
    content_type TEXT DEFAULT '' NOT NULL,
    encoding TEXT DEFAULT '' NOT NULL,
    title TEXT DEFAULT '' NOT NULL,
    depth INTEGER,
    host_key TEXT,
    is_homepage INTEGER DEFAULT 0 NOT NULL,
    method TEXT DEFAULT 'GET' NOT NULL,
    error TEXT DEFAULT '' NOT NULL,
    fetched_at TEXT,
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX pages_run_url ON pages (run_id, url);

CREATE TABLE links (
    run_id INTEGER NOT NULL,
    to_url TEXT NOT NULL,
    from_url TEXT NOT NULL,
    text TEXT DEFAULT '' NOT NULL,
    element TEXT DEFAULT 'a' NOT NULL,
    on_homepage INTEGER DEFAULT 0 NOT NULL,
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX links_target ON links (run_id, to_url);

CREATE TABLE link_counts (
    run_id INTEGER NOT NULL,
    to_url TEXT NOT NULL,
    referrers INTEGER NOT NULL,
    on_homepage INTEGER NOT NULL,
    PRIMARY KEY (run_id, to_url),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
)
 WITHOUT ROWID;

CREATE TABLE findings (
    id INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    code TEXT NOT NULL,
    severity INTEGER NOT NULL,
    check_name TEXT DEFAULT '' NOT NULL,
    url TEXT NOT NULL,
    host_key TEXT,
    page_url TEXT,
    message TEXT DEFAULT '' NOT NULL,
    details TEXT DEFAULT '{}' NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX findings_run ON findings (run_id, code);

CREATE TABLE facts (
    run_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    host_key TEXT DEFAULT '' NOT NULL,
    "key" TEXT DEFAULT '' NOT NULL,
    check_name TEXT DEFAULT '' NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, name, host_key, "key"),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
)
 WITHOUT ROWID;

CREATE TABLE verdicts (
    run_id INTEGER NOT NULL,
    result TEXT NOT NULL,
    score REAL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE TABLE probes (
    id INTEGER NOT NULL,
    site TEXT NOT NULL,
    host_key TEXT NOT NULL,
    url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status INTEGER,
    reason TEXT DEFAULT '' NOT NULL,
    ttfb_s REAL,
    total_s REAL,
    cert_expiry TEXT,
    error TEXT DEFAULT '' NOT NULL,
    kind TEXT DEFAULT 'portal' NOT NULL,
    name TEXT DEFAULT '' NOT NULL,
    final_url TEXT,
    dns_s REAL,
    connect_s REAL,
    tls_s REAL,
    PRIMARY KEY (id)
);

CREATE INDEX probes_site_time ON probes (site, started_at);

CREATE INDEX probes_site_url_time ON probes (site, url, started_at);

INSERT INTO alembic_version (version_num) VALUES ('0001') RETURNING version_num;

-- Running upgrade 0001 -> 0002

ALTER TABLE runs ADD COLUMN night TEXT;

CREATE UNIQUE INDEX runs_one_complete_night ON runs (site, night) WHERE status = 'complete';

CREATE TABLE nights (
    site TEXT NOT NULL,
    night TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    run_id INTEGER,
    worker TEXT DEFAULT '' NOT NULL,
    heartbeat_at TEXT,
    attempts INTEGER DEFAULT 0 NOT NULL,
    enqueued_at TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (site, night),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE SET NULL
);

CREATE INDEX nights_by_night ON nights (night, state);

CREATE INDEX runs_running ON runs (hostname) WHERE status = 'running';

CREATE INDEX nights_running ON nights (heartbeat_at) WHERE state = 'running';

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';


-- Support tickets (issue 6).

-- SLA targets per priority and optionally category; the calendar is null for 24/7.
CREATE TABLE sla_policies (
    id                     UUID PRIMARY KEY,
    name                   TEXT NOT NULL,
    priority               TEXT NOT NULL,
    category               TEXT,
    first_response_minutes BIGINT NOT NULL,
    resolution_minutes     BIGINT NOT NULL,
    calendar               JSONB,
    version                BIGINT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
-- One policy per priority and category (and one per priority for "any category").
CREATE UNIQUE INDEX sla_policies_target ON sla_policies (priority, COALESCE(category, ''));

CREATE TABLE tickets (
    id                       UUID PRIMARY KEY,
    customer_id              UUID NOT NULL REFERENCES customers (id),
    subject                  TEXT NOT NULL,
    description              TEXT,
    channel                  TEXT NOT NULL,
    category                 TEXT,
    tags                     JSONB NOT NULL,
    priority                 TEXT NOT NULL,
    status                   TEXT NOT NULL,
    assignee_id              UUID REFERENCES users (id),
    product_model            TEXT,
    product_serial           TEXT,
    product_purchased_at     TIMESTAMPTZ,
    purchase_interaction_id  UUID REFERENCES interactions (id) ON DELETE SET NULL,
    custom_fields            JSONB NOT NULL,
    -- The SLA policy copied onto the ticket, and the spans its resolution clock stood still.
    sla_terms                JSONB,
    sla_pauses               JSONB NOT NULL,
    -- Derived from the above at every write, for filters and stats: due times (resolution's is
    -- null while the clock stands still or once met) and breaches known at the last write.
    first_response_due_at    TIMESTAMPTZ,
    resolution_due_at        TIMESTAMPTZ,
    first_response_breached  BOOLEAN NOT NULL,
    resolution_breached      BOOLEAN NOT NULL,
    first_responded_at       TIMESTAMPTZ,
    solved_at                TIMESTAMPTZ,
    closed_at                TIMESTAMPTZ,
    -- The customer's rating once given: {"rating", "comment", "rated_at"}.
    csat                     JSONB,
    -- Subject and description folded to lower case (Unicode) for `q`; SQLite's lower() is ASCII-only.
    search_text              TEXT NOT NULL,
    created_by_type          TEXT,
    created_by_id            UUID,
    version                  BIGINT NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_customer ON tickets (customer_id, id);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_model ON tickets (product_model, customer_id);
CREATE INDEX tickets_first_response_due ON tickets (first_response_due_at) WHERE first_responded_at IS NULL;
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at) WHERE resolution_due_at IS NOT NULL;

-- Tags mirrored for an index seek, as for customers.
CREATE TABLE ticket_tags (
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (tag, ticket_id)
);

-- Every change of status, priority, assignee or category; the first response; the rating.
CREATE TABLE ticket_events (
    id          UUID PRIMARY KEY,
    ticket_id   UUID NOT NULL REFERENCES tickets (id),
    customer_id UUID NOT NULL REFERENCES customers (id),
    kind        TEXT NOT NULL,
    from_value  TEXT,
    to_value    TEXT,
    actor_type  TEXT,
    actor_id    UUID,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_customer ON ticket_events (customer_id, created_at, id);

-- Public replies and internal notes.
CREATE TABLE ticket_messages (
    id          UUID PRIMARY KEY,
    ticket_id   UUID NOT NULL REFERENCES tickets (id),
    visibility  TEXT NOT NULL,
    author_type TEXT NOT NULL,
    author_id   UUID NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

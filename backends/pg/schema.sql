-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- schema.sql - schema "ipcfs", version 1: the objects of -o engine=postgresql
-- and their semantics, as SQL functions. The daemon calls these functions,
-- one per file operation and one round trip each, and so can any program
-- without a mount: this is the engine's "native API", as mq_open(3) is the
-- local engine's. The daemon sends this file in one PQexec, inside one
-- transaction, when the schema does not exist yet.
--
-- Native API (NAME is the POSIX name, with its '/'; see EXAMPLES.md):
--
--   Any kind (KIND: queues, channels, shm, sem, topics)
--     ipcfs.version()                          select ipcfs.version();          -> 1
--     ipcfs.list(KIND)                         select * from ipcfs.list('queues');
--     ipcfs.id(KIND, NAME)                     select ipcfs.id('queues', '/jobs');
--     ipcfs.stat(KIND, NAME)                   select * from ipcfs.stat('sem', '/lock');
--     ipcfs.chmod(KIND, NAME, MODE)            select ipcfs.chmod('queues', '/jobs', 432);
--     ipcfs.chown(KIND, NAME, UID, GID)        select ipcfs.chown('queues', '/jobs', 1000, -1);
--     ipcfs.unlink(KIND, NAME)                 select ipcfs.unlink('queues', '/jobs');
--   Sessions that hold things (a daemon's mount, or any program)
--     ipcfs.mount_attach(UUID, HOST, PID)      select ipcfs.mount_attach('8e0b…', 'db1', 4242);
--     ipcfs.mount_detach(UUID)                 select ipcfs.mount_detach('8e0b…');
--     ipcfs.reclaim(GRACE_SECONDS)             select ipcfs.reclaim(30);
--   Queues
--     ipcfs.mq_create(NAME, UID, GID, MODE, MAXMSG, MSGSIZE)
--                                              select ipcfs.mq_create('/jobs', 0, 0, 420, 10, 8192);
--     ipcfs.mq_send(NAME, DATA, PRIO)          select ipcfs.mq_send('/jobs', 'build', 0);      -> t (f: full)
--     ipcfs.mq_receive(NAME)                   select * from ipcfs.mq_receive('/jobs');        -> build | 0 | 1
--     ipcfs.mq_give_back(NAME, DATA, PRIO, SEQ)select ipcfs.mq_give_back('/jobs', 'build', 0, 1);
--     ipcfs.mq_attr(NAME)                      select * from ipcfs.mq_attr('/jobs');           -> 10 | 8192 | 0
--     ipcfs.mq_set(NAME, MAXMSG, MSGSIZE)      select ipcfs.mq_set('/jobs', 100, null);
--     Tagged (a daemon's calls that may be sent twice; see "Tagged calls"):
--     ipcfs.mq_send(NAME, DATA, PRIO, TAG), ipcfs.mq_receive(NAME, TAG),
--     ipcfs.settle(MOUNT, KEYS, DOUBT, NS)    select ipcfs.settle('8e0b…', '{3}', '{f}', '{7}');
--   Channels
--     ipcfs.channel_create(NAME, UID, GID, MODE, CAPACITY)
--                                              select ipcfs.channel_create('/log', 0, 0, 420, 65536);
--     ipcfs.channel_open(NAME, MOUNT, READING, WRITING)
--                                              select * from ipcfs.channel_open('/log', '8e0b…', false, true);
--     ipcfs.channel_close(NAME, MOUNT, READING, WRITING)
--                                              select ipcfs.channel_close('/log', '8e0b…', false, true);
--     ipcfs.channel_write(NAME, DATA)          select ipcfs.channel_write('/log', 'hello\n');  -> 6
--     ipcfs.channel_read(NAME, MAX)            select * from ipcfs.channel_read('/log', 4096);
--     ipcfs.channel_unread(NAME, DATA)         select ipcfs.channel_unread('/log', 'hello\n');
--     ipcfs.channel_attr(NAME)                 select * from ipcfs.channel_attr('/log');
--     ipcfs.channel_set(NAME, CAPACITY, EOF)   select ipcfs.channel_set('/log', null, 'rmdir');
--   Shared memory
--     ipcfs.shm_create(NAME, UID, GID, MODE)   select ipcfs.shm_create('/seg', 0, 0, 420);
--     ipcfs.shm_write(NAME, OFF, DATA)         select ipcfs.shm_write('/seg', 0, 'hi');        -> 2
--     ipcfs.shm_read(NAME, OFF, LEN)           select ipcfs.shm_read('/seg', 0, 2);            -> \x6869
--     ipcfs.shm_size(NAME)                     select ipcfs.shm_size('/seg');                  -> 2
--     ipcfs.shm_truncate(NAME, SIZE)           select ipcfs.shm_truncate('/seg', 1048576);
--   Semaphores
--     ipcfs.sem_create(NAME, UID, GID, MODE, VALUE)
--                                              select ipcfs.sem_create('/lock', 0, 0, 420, 1);
--     ipcfs.sem_post(NAME, N)                  select ipcfs.sem_post('/lock', 1);              -> new value
--     ipcfs.sem_trywait(NAME)                  select ipcfs.sem_trywait('/lock');              -> t (f: none)
--     ipcfs.sem_value(NAME)                    select ipcfs.sem_value('/lock');
--     ipcfs.sem_hold(NAME, MOUNT, PID)         select ipcfs.sem_hold('/lock', '8e0b…', 4242);  -> hold id or null
--     ipcfs.sem_release(HOLD)                  select ipcfs.sem_release(7);
--     ipcfs.sem_holders(NAME, MOUNT)           select * from ipcfs.sem_holders('/lock', '8e0b…');
--   Topics
--     ipcfs.topic_create(NAME, UID, GID, MODE, BACKLOG)
--                                              select ipcfs.topic_create('/reload', 0, 0, 420, 1024);
--     ipcfs.topic_subscribe(NAME, MOUNT)       select ipcfs.topic_subscribe('/reload', '8e0b…'); -> sub id
--     ipcfs.topic_publish(NAME, DATA)          select ipcfs.topic_publish('/reload', 'now');   -> seq
--     ipcfs.topic_read(SUB)                    select * from ipcfs.topic_read(3);              -> now | 1
--     ipcfs.topic_unread(SUB, SEQ, DATA)       select ipcfs.topic_unread(3, 1, 'now');
--     ipcfs.topic_unsubscribe(SUB)             select ipcfs.topic_unsubscribe(3);
--     ipcfs.topic_attr(NAME)                   select * from ipcfs.topic_attr('/reload');
--     ipcfs.topic_set(NAME, BACKLOG)           select ipcfs.topic_set('/reload', 64);
--
-- Errors are SQLSTATE IPnnn, nnn the errno (IP002 ENOENT, IP017 EEXIST,
-- IP022 EINVAL, IP090 EMSGSIZE, IP016 EBUSY, IP075 EOVERFLOW, IP027 EFBIG,
-- IP036 ENAMETOOLONG, IP107 ENOTCONN: a mount that is not attached). "Would
-- block" is no error: false, zero rows, 0 bytes or null, as each function
-- says. Nothing here waits: a program waits by LISTEN ipcfs and retrying.
--
-- Waking: whatever may end somebody's wait NOTIFYs channel "ipcfs" with
-- "KIND OP ID NAME" (OP c: changed, x: removed; NAME is the rest of the
-- payload). Only the changes that can end a wait notify: a send into an
-- empty queue, a receive from a full one, a post onto 0, a write into an
-- empty channel, a read from a channel that could refuse a write... A
-- notifying commit takes a cluster-wide lock (async.c), so notifications
-- are the cost to save. This is safe because every operation on one object
-- serialises on its row in the kind's table (queues, channels, sems,
-- topics): a caller that found "would block" was ordered before the change
-- that ends it, and that change notifies. The daemon's parking looks again
-- once parked, which covers a notification that arrives in between.
--
-- Locking: each function locks its object's kind row (FOR NO KEY UPDATE, or
-- an UPDATE) before it reads what it decides on, so counts and the rows
-- they count change together (maxmsg, capacity, exactly-once receive). The
-- lock is held until the function's statement commits: one round trip.
-- Child rows (messages, chunks, pages, holds, ...) reference the kind row,
-- not ipcfs.objects, so their foreign-key checks take the lock the function
-- already holds instead of locking the objects row on every insert.

create schema ipcfs;

comment on schema ipcfs is 'ipcfs (-o engine=postgresql): objects and their semantics, version 1';

create table ipcfs.meta (
	version int not null
);
insert into ipcfs.meta values (1);

create function ipcfs.version() returns int
language sql immutable as $$ select 1 $$;

-- One row per object of every kind; the kind tables hang from it.
create table ipcfs.objects (
	id bigint generated always as identity primary key,
	kind text not null
		check (kind in ('queues', 'channels', 'shm', 'sem', 'topics')),
	name text not null,
	uid int not null,
	gid int not null,
	mode int not null,
	atime timestamptz not null default now(),
	mtime timestamptz not null default now(),
	ctime timestamptz not null default now(),
	unique (kind, name)
);

-- The daemons (and any program) that hold units, open channels, subscribe:
-- a row per mount, refreshed by mount_attach after every (re)connect with
-- the session that stands for it. When that session is gone, reclaim()
-- gives back what the mount held.
create table ipcfs.mounts (
	id uuid primary key,
	host text not null,
	pid int not null,
	backend_pid int not null,
	backend_start timestamptz not null,
	server_start timestamptz not null, -- ipcfs.server_start() then
	lost_since timestamptz -- first seen dead by reclaim(), after a restart
);

-- The kind rows are updated by nearly every call (counters): room on the
-- page keeps those updates HOT (no index touched, pruned in place).
create table ipcfs.queues (
	obj bigint primary key references ipcfs.objects on delete cascade,
	maxmsg int not null,
	msgsize int not null,
	curmsgs int not null default 0,
	seq bigint not null default 0, -- the last message's number
	changed timestamptz
) with (fillfactor = 50);

-- Receive takes the smallest (obj, -prio, seq): the index is in that order.
-- Payloads are rarely worth compressing and a message is read once:
-- EXTERNAL keeps big ones out of line without the compression cost.
create table ipcfs.messages (
	obj bigint not null references ipcfs.queues on delete cascade,
	prio int not null,
	seq bigint not null,
	data bytea not null
) with (autovacuum_vacuum_scale_factor = 0.0,
	autovacuum_vacuum_threshold = 1000);
alter table ipcfs.messages alter column data set storage external;
create unique index messages_head on ipcfs.messages (obj, prio desc, seq);

create table ipcfs.channels (
	obj bigint primary key references ipcfs.objects on delete cascade,
	capacity int not null,
	bytes int not null default 0,
	eof text not null default 'close' check (eof in ('close', 'rmdir')),
	writer_opens bigint not null default 0,
	head bigint not null default 1, -- the chunks are head..tail
	tail bigint not null default 0,
	changed timestamptz
) with (fillfactor = 50);

-- The buffer: one chunk per write (tail + 1), read from head; an unread
-- goes in front (head - 1). Reads look from head on, never at the index
-- entries of the chunks read before, which stay until vacuum.
create table ipcfs.chunks (
	obj bigint not null references ipcfs.channels on delete cascade,
	seq bigint not null,
	data bytea not null,
	primary key (obj, seq)
) with (autovacuum_vacuum_scale_factor = 0.0,
	autovacuum_vacuum_threshold = 1000);
alter table ipcfs.chunks alter column data set storage external;

-- Open files of a channel's data, counted per mount: the EOF rule counts
-- the writers of every mount, and a dead mount's stop counting when it is
-- reclaimed (the rows go with its mounts row).
create table ipcfs.openers (
	obj bigint not null references ipcfs.channels on delete cascade,
	mount uuid not null references ipcfs.mounts on delete cascade,
	readers int not null default 0,
	writers int not null default 0,
	primary key (obj, mount)
);
create index openers_mount on ipcfs.openers (mount);

create table ipcfs.shms (
	obj bigint primary key references ipcfs.objects on delete cascade,
	size bigint not null default 0,
	changed timestamptz
) with (fillfactor = 50);

-- Pages of 8192 bytes, always whole; a page that is absent reads as zeros,
-- and so does everything past size (truncate zeroes what it cuts).
-- EXTERNAL: stored out of line uncompressed, so a page is never run
-- through pglz on write, and substring() fetches only the slices it needs.
create table ipcfs.pages (
	obj bigint not null references ipcfs.shms on delete cascade,
	pageno bigint not null,
	data bytea not null,
	primary key (obj, pageno)
);
alter table ipcfs.pages alter column data set storage external;

create table ipcfs.sems (
	obj bigint primary key references ipcfs.objects on delete cascade,
	value int not null check (value >= 0),
	changed timestamptz
) with (fillfactor = 50);

-- Units taken through sem_hold: given back by sem_release, or by
-- mount_detach/reclaim when the mount ends. No cascade from mounts: a
-- mounts row may only go with its units given back (mount_release).
create table ipcfs.holds (
	id bigint generated always as identity primary key,
	obj bigint not null references ipcfs.sems on delete cascade,
	mount uuid not null references ipcfs.mounts,
	pid int not null,
	host text not null,
	since timestamptz not null default now()
);
create index holds_obj on ipcfs.holds (obj, since, id);
create index holds_mount on ipcfs.holds (mount);

create table ipcfs.topics (
	obj bigint primary key references ipcfs.objects on delete cascade,
	backlog int not null,
	published bigint not null default 0, -- also the last message's seq
	dropped bigint not null default 0,
	changed timestamptz
) with (fillfactor = 50);

create table ipcfs.topic_messages (
	obj bigint not null references ipcfs.topics on delete cascade,
	seq bigint not null,
	data bytea not null,
	primary key (obj, seq)
) with (autovacuum_vacuum_scale_factor = 0.0,
	autovacuum_vacuum_threshold = 1000);
alter table ipcfs.topic_messages alter column data set storage external;

-- A reader of a topic: next is the seq of the next message it gets. A
-- subscription of no mount (null) lasts until topic_unsubscribe.
create table ipcfs.subscriptions (
	id bigint generated always as identity primary key,
	obj bigint not null references ipcfs.topics on delete cascade,
	mount uuid references ipcfs.mounts on delete cascade,
	next bigint not null
);
create index subscriptions_obj on ipcfs.subscriptions (obj);
create index subscriptions_mount on ipcfs.subscriptions (mount);

--
-- Helpers
--

-- What the error messages call a kind.
create function ipcfs.noun(kind text) returns text
language sql immutable as $$
	select case kind when 'queues' then 'queue' when 'channels' then 'channel'
		when 'shm' then 'shm segment' when 'sem' then 'semaphore'
		when 'topics' then 'topic' else kind end
$$;

create function ipcfs.missing(kind text, name text) returns void
language plpgsql as $$
begin
	raise exception '% "%" does not exist', ipcfs.noun(kind), name
		using errcode = 'IP002';
end $$;

create function ipcfs.bad(what text) returns void
language plpgsql as $$
begin
	raise exception '%', what using errcode = 'IP022';
end $$;

-- The wake-up of the waiters of one object (see the top of the file).
create function ipcfs.notify(kind text, op text, id bigint, name text)
returns void language sql as $$
	select pg_notify('ipcfs', kind || ' ' || op || ' ' || id || ' ' || name)
$$;

-- POSIX names: '/' and 1..255 bytes that are not '/', not "." or "..".
create function ipcfs.check_name(name text) returns void
language plpgsql as $$
begin
	if name is null or name !~ '^/[^/]+$' or name in ('/.', '/..') then
		raise exception 'invalid name "%"', name using errcode = 'IP022';
	end if;
	if octet_length(name) > 256 then
		raise exception 'name "%" is too long', name
			using errcode = 'IP036';
	end if;
end $$;

-- The objects row of a new object; mode keeps the permission bits only, so
-- a caller may pass mkdir's whole mode.
create function ipcfs.create_object(kind text, name text, uid int, gid int,
				    mode int) returns bigint
language plpgsql as $$
declare
	oid_ bigint;
begin
	perform ipcfs.check_name(create_object.name);
	insert into ipcfs.objects (kind, name, uid, gid, mode)
	values (create_object.kind, create_object.name, create_object.uid,
		create_object.gid, create_object.mode & 4095)
	on conflict do nothing
	returning id into oid_;
	if oid_ is null then
		raise exception '% "%" exists', ipcfs.noun(create_object.kind),
			create_object.name using errcode = 'IP017';
	end if;
	return oid_;
end $$;

-- A mount's host, or IP107 when it is not attached (never was, or was
-- reclaimed: its daemon must mount_attach again).
-- Also locks the mounts row (KEY SHARE, as the foreign key of what the
-- caller inserts next would), first: a mount_release running meanwhile
-- (FOR UPDATE of that row, then the kind rows) waits for the caller, or
-- the caller for it, instead of each holding what the other needs.
create function ipcfs.mount_host(mount uuid) returns text
language plpgsql as $$
declare
	h text;
begin
	select m.host into h from ipcfs.mounts m where m.id = mount_host.mount
	for key share;
	if not found then
		raise exception 'mount % is not attached', mount_host.mount
			using errcode = 'IP107',
			hint = 'call ipcfs.mount_attach() on the session that stands for it';
	end if;
	return h;
end $$;

-- An absent page, and what truncate writes over the part of a page it cuts.
-- Immutable: planned once, a constant in every plan that uses it.
create function ipcfs.zeros() returns bytea
language sql immutable parallel safe as $$
	select decode(repeat('00', 8192), 'hex')
$$;

--
-- Every kind
--

create function ipcfs.list(kind text) returns setof text
language plpgsql stable as $$
begin
	if kind not in ('queues', 'channels', 'shm', 'sem', 'topics') then
		perform ipcfs.bad(format('no kind "%s"', kind));
	end if;
	return query select o.name from ipcfs.objects o
		where o.kind = list.kind order by o.name collate "C";
end $$;

create function ipcfs.id(kind text, name text) returns bigint
language plpgsql stable as $$
declare
	oid_ bigint;
begin
	select o.id into oid_ from ipcfs.objects o
	 where o.kind = id.kind and o.name = id.name;
	if not found then
		perform ipcfs.missing(id.kind, id.name);
	end if;
	return oid_;
end $$;

-- atime and mtime are those of the last change of the contents (a send, a
-- receive, a write...), kept in the kind row that change updates anyway.
create function ipcfs.stat(kind text, name text)
returns table(uid int, gid int, mode int, atime float8, mtime float8,
	      ctime float8)
language plpgsql stable as $$
begin
	return query
	select o.uid, o.gid, o.mode,
	       extract(epoch from greatest(o.atime, x.changed))::float8,
	       extract(epoch from greatest(o.mtime, x.changed))::float8,
	       extract(epoch from o.ctime)::float8
	  from ipcfs.objects o
	 cross join lateral (
		select coalesce(q.changed, c.changed, sh.changed, se.changed,
				tp.changed) as changed
		  from (select 1) one
		  left join ipcfs.queues q on q.obj = o.id
		  left join ipcfs.channels c on c.obj = o.id
		  left join ipcfs.shms sh on sh.obj = o.id
		  left join ipcfs.sems se on se.obj = o.id
		  left join ipcfs.topics tp on tp.obj = o.id
	 ) x
	 where o.kind = stat.kind and o.name = stat.name;
	if not found then
		perform ipcfs.missing(stat.kind, stat.name);
	end if;
end $$;

create function ipcfs.chmod(kind text, name text, mode int) returns void
language plpgsql as $$
begin
	update ipcfs.objects o set mode = chmod.mode & 4095, ctime = now()
	 where o.kind = chmod.kind and o.name = chmod.name;
	if not found then
		perform ipcfs.missing(chmod.kind, chmod.name);
	end if;
end $$;

-- -1 leaves an id as it is, as chown(2).
create function ipcfs.chown(kind text, name text, uid int, gid int)
returns void
language plpgsql as $$
begin
	update ipcfs.objects o
	   set uid = case when chown.uid = -1 then o.uid else chown.uid end,
	       gid = case when chown.gid = -1 then o.gid else chown.gid end,
	       ctime = now()
	 where o.kind = chown.kind and o.name = chown.name;
	if not found then
		perform ipcfs.missing(chown.kind, chown.name);
	end if;
end $$;

-- Everything of the object goes with its row (cascades); waiters on every
-- mount learn it from the "x".
create function ipcfs.unlink(kind text, name text) returns void
language plpgsql as $$
declare
	oid_ bigint;
begin
	delete from ipcfs.objects o
	 where o.kind = unlink.kind and o.name = unlink.name
	returning o.id into oid_;
	if not found then
		perform ipcfs.missing(unlink.kind, unlink.name);
	end if;
	perform ipcfs.notify(unlink.kind, 'x', oid_, unlink.name);
end $$;

--
-- Mounts
--

-- When this server began its present life: the postmaster's start, or the
-- end of its last crash recovery, whichever is later. A backend that
-- crashes makes the postmaster end every session and recover, but keeps
-- pg_postmaster_start_time(): its daemons are alive and reconnecting, as
-- after a restart, and must get the grace of a restart. Recovery resets
-- the shared statistics (PostgreSQL 15 and later), whose reset time every
-- role may read. A reset by hand (pg_stat_reset_shared) also moves it:
-- reclaim then carries the live mounts over, and only gives the dead ones
-- grace they did not need.
create function ipcfs.server_start() returns timestamptz
language sql stable as $$
	select greatest(pg_postmaster_start_time(),
			pg_stat_get_bgwriter_stat_reset_time())
$$;

-- Which session stands for the mount: this one. Called after every
-- (re)connect on the session the daemon keeps (its LISTEN session), so
-- reclaim() sees the mount alive exactly while that session lives.
create function ipcfs.mount_attach(mount uuid, host text, pid int)
returns void
language plpgsql as $$
begin
	insert into ipcfs.mounts as m (id, host, pid, backend_pid,
				       backend_start, server_start, lost_since)
	select mount_attach.mount, mount_attach.host, mount_attach.pid,
	       a.pid, a.backend_start, ipcfs.server_start(), null
	  from pg_stat_activity a
	 where a.pid = pg_backend_pid()
	on conflict (id) do update
	   set host = excluded.host, pid = excluded.pid,
	       backend_pid = excluded.backend_pid,
	       backend_start = excluded.backend_start,
	       server_start = excluded.server_start, lost_since = null;
end $$;

-- Give back everything the mount holds and forget it: its holds' units,
-- its channel opens, its subscriptions. Each object touched is notified
-- (waiters for a unit, readers that may now see EOF).
create function ipcfs.mount_release(mount uuid) returns void
language plpgsql as $$
declare
	touched bigint[];
begin
	-- First the mounts row, FOR UPDATE: that waits for the mount's
	-- inserts in flight (their foreign-key checks share-lock the row),
	-- and the statements below see them; later ones fail on the
	-- foreign key, as the mount is gone.
	perform 1 from ipcfs.mounts m where m.id = mount_release.mount
	for update;
	with gone as (
		delete from ipcfs.holds h where h.mount = mount_release.mount
		returning h.obj
	), n as (
		select g.obj, count(*) as units from gone g group by g.obj
	), u as (
		-- A unit given back onto a value posted up to the maximum
		-- meanwhile is lost rather than overflowing.
		update ipcfs.sems s
		   set value = least(s.value::bigint + n.units,
				     2147483647)::int,
		       changed = now()
		  from n where s.obj = n.obj
		returning s.obj
	), c as (
		delete from ipcfs.openers p where p.mount = mount_release.mount
		returning p.obj
	), t as (
		delete from ipcfs.subscriptions s
		 where s.mount = mount_release.mount
		returning s.obj
	), k as (
		-- (what its handles took was delivered: see ipcfs.calls)
		delete from ipcfs.calls k where k.mount = mount_release.mount
	)
	select array_agg(distinct x.obj) into touched
	  from (select u.obj from u union all select c.obj from c
		union all select t.obj from t) x;
	delete from ipcfs.mounts m where m.id = mount_release.mount;
	perform ipcfs.notify(o.kind, 'c', o.id, o.name)
	   from ipcfs.objects o where o.id = any (touched);
end $$;

-- A clean exit: as if the mount had died, at once.
create function ipcfs.mount_detach(mount uuid) returns void
language plpgsql as $$
begin
	perform ipcfs.mount_release(mount_detach.mount);
end $$;

-- Is the session that stands for a mount still there? (pid, backend_start)
-- names a session, pid alone does not (pids are reused). A role without
-- pg_read_all_stats sees other roles' sessions with backend_start null:
-- then the pid alone decides, in favour of life.
create function ipcfs.mount_alive(backend_pid int, backend_start timestamptz)
returns boolean
language sql stable as $$
	select exists (select 1 from pg_stat_activity a
			where a.pid = mount_alive.backend_pid
			  and (a.backend_start = mount_alive.backend_start
			       or a.backend_start is null))
$$;

-- Reclaim what dead mounts hold. A mount whose session is gone while the
-- server it attached to still runs had its daemon die (or lose its
-- connection): reclaimed at once. If the server restarted, recovered from
-- a crash or failed over since (server_start() moved), the daemon may well
-- be alive and reconnecting: it gets grace seconds from the first time a
-- reclaim sees it lost. Only one reclaim runs at a time (the others return
-- 0 at once: that one does the work).
create function ipcfs.reclaim(grace float8) returns int
language plpgsql as $$
declare
	m record;
	r record;
	n int := 0;
begin
	-- 0x69706366 is "ipcf".
	if not pg_try_advisory_xact_lock(1768973158, 1) then
		return 0;
	end if;
	-- A live session is of this server's present life, whatever its
	-- mount recorded (statistics reset by hand).
	update ipcfs.mounts mt set server_start = ipcfs.server_start()
	 where mt.server_start <> ipcfs.server_start()
	   and ipcfs.mount_alive(mt.backend_pid, mt.backend_start);
	for m in select mt.id, mt.backend_pid, mt.backend_start
		   from ipcfs.mounts mt
		  where not ipcfs.mount_alive(mt.backend_pid, mt.backend_start)
	loop
		-- Look again under the row's lock: a mount_attach may have
		-- brought it back meanwhile, with a session this transaction's
		-- view of pg_stat_activity (taken at its start) cannot see.
		select mt.* into r from ipcfs.mounts mt where mt.id = m.id
		for update;
		if not found or r.backend_pid <> m.backend_pid or
		   r.backend_start is distinct from m.backend_start then
			continue;
		end if;
		if r.server_start = ipcfs.server_start() or
		   (r.lost_since is not null and
		    now() - r.lost_since > make_interval(secs => grace)) then
			perform ipcfs.mount_release(r.id);
			n := n + 1;
		elsif r.lost_since is null then
			update ipcfs.mounts mt set lost_since = now()
			 where mt.id = r.id;
		end if;
	end loop;
	return n;
end $$;

--
-- Queues: priorities 0..32767, higher first, oldest first within one.
--

create function ipcfs.mq_create(name text, uid int, gid int, mode int,
				maxmsg int, msgsize int) returns bigint
language plpgsql as $$
declare
	oid_ bigint;
	mx int := coalesce(mq_create.maxmsg, 10);
	sz int := coalesce(mq_create.msgsize, 8192);
begin
	if mx not between 1 and 65536 then
		perform ipcfs.bad(format('maxmsg %s is out of range 1..65536',
					 mx));
	end if;
	if sz not between 1 and 1044480 then
		perform ipcfs.bad(format('msgsize %s is out of range 1..1044480',
					 sz));
	end if;
	oid_ := ipcfs.create_object('queues', name, uid, gid, mode);
	insert into ipcfs.queues (obj, maxmsg, msgsize) values (oid_, mx, sz);
	return oid_;
end $$;

-- The count check and the insert are one: the UPDATE that counts the
-- message locks the queue row and checks room and size on the row it locked
-- (re-checked on the newest version if it had to wait). A refused send
-- stores nothing.
create function ipcfs.mq_send(name text, data bytea, prio int)
returns boolean
language plpgsql as $$
declare
	qid bigint;
	n bigint;
	cur int;
	sz int;
begin
	if mq_send.prio is null or mq_send.prio not between 0 and 32767 then
		perform ipcfs.bad(format('priority %s is out of range 0..32767',
					 mq_send.prio));
	end if;
	update ipcfs.queues q
	   set curmsgs = q.curmsgs + 1, seq = q.seq + 1, changed = now()
	  from ipcfs.objects o
	 where o.kind = 'queues' and o.name = mq_send.name and q.obj = o.id
	   and q.curmsgs < q.maxmsg and octet_length(mq_send.data) <= q.msgsize
	returning q.obj, q.seq, q.curmsgs into qid, n, cur;
	if not found then
		-- No queue, a message too big, or a full queue.
		select q.msgsize into sz
		  from ipcfs.objects o join ipcfs.queues q on q.obj = o.id
		 where o.kind = 'queues' and o.name = mq_send.name;
		if not found then
			perform ipcfs.missing('queues', mq_send.name);
		end if;
		if octet_length(mq_send.data) > sz then
			raise exception 'message of % bytes is larger than msgsize %',
				octet_length(mq_send.data), sz
				using errcode = 'IP090';
		end if;
		return false;
	end if;
	insert into ipcfs.messages (obj, prio, seq, data)
	values (qid, mq_send.prio, n, mq_send.data);
	if cur = 1 then -- it was empty: receivers may wait
		perform ipcfs.notify('queues', 'c', qid, mq_send.name);
	end if;
	return true;
end $$;

-- Exactly once: receivers of every mount serialise on the queue row, so
-- the head one takes is gone for the next. (SKIP LOCKED would let
-- receivers pass each other, but the count must change anyway, under the
-- same lock, and a receiver that skipped a locked head could answer
-- "empty" while a message waits, which the notify-on-change rule above
-- cannot afford.)
create function ipcfs.mq_receive(name text)
returns table(data bytea, prio int, seq bigint)
language plpgsql as $$
declare
	qid bigint;
	cur int;
	mx int;
begin
	select q.obj, q.curmsgs, q.maxmsg into qid, cur, mx
	  from ipcfs.objects o join ipcfs.queues q on q.obj = o.id
	 where o.kind = 'queues' and o.name = mq_receive.name
	for no key update of q;
	if not found then
		perform ipcfs.missing('queues', mq_receive.name);
	end if;
	if cur <= 0 then
		return;
	end if;
	delete from ipcfs.messages m
	 where m.ctid = (select h.ctid from ipcfs.messages h
			  where h.obj = qid
			  order by h.prio desc, h.seq limit 1)
	returning m.data, m.prio, m.seq into data, prio, seq;
	if not found then
		return;
	end if;
	update ipcfs.queues q set curmsgs = q.curmsgs - 1, changed = now()
	 where q.obj = qid;
	if cur = mx then -- it was full: senders may wait
		perform ipcfs.notify('queues', 'c', qid, mq_receive.name);
	end if;
	return next;
end $$;

-- A message taken by a reader that could not deliver it goes back where it
-- was (its prio and seq), ahead of those sent since, even into a queue
-- that filled meanwhile: curmsgs may pass maxmsg by the messages given
-- back, until receives bring it down (documented). Giving back twice
-- stores it once.
create function ipcfs.mq_give_back(name text, data bytea, prio int,
				   seq bigint) returns boolean
language plpgsql as $$
declare
	qid bigint;
begin
	select q.obj into qid
	  from ipcfs.objects o join ipcfs.queues q on q.obj = o.id
	 where o.kind = 'queues' and o.name = mq_give_back.name
	for no key update of q;
	if not found then
		return false;
	end if;
	insert into ipcfs.messages (obj, prio, seq, data)
	values (qid, mq_give_back.prio, mq_give_back.seq, mq_give_back.data)
	on conflict do nothing;
	if found then
		update ipcfs.queues q set curmsgs = q.curmsgs + 1
		 where q.obj = qid;
		perform ipcfs.notify('queues', 'c', qid, mq_give_back.name);
	end if;
	return true;
end $$;

create function ipcfs.mq_attr(name text)
returns table(maxmsg int, msgsize int, curmsgs int)
language plpgsql stable as $$
begin
	return query select q.maxmsg, q.msgsize, q.curmsgs
	  from ipcfs.objects o join ipcfs.queues q on q.obj = o.id
	 where o.kind = 'queues' and o.name = mq_attr.name;
	if not found then
		perform ipcfs.missing('queues', mq_attr.name);
	end if;
end $$;

-- New limits, for an empty queue only (as the local kind re-creates the
-- queue): a message waiting was sent under the old ones.
create function ipcfs.mq_set(name text, maxmsg int, msgsize int)
returns void
language plpgsql as $$
declare
	qid bigint;
	cur int;
begin
	if mq_set.maxmsg not between 1 and 65536 then
		perform ipcfs.bad(format('maxmsg %s is out of range 1..65536',
					 mq_set.maxmsg));
	end if;
	if mq_set.msgsize not between 1 and 1044480 then
		perform ipcfs.bad(format('msgsize %s is out of range 1..1044480',
					 mq_set.msgsize));
	end if;
	select q.obj, q.curmsgs into qid, cur
	  from ipcfs.objects o join ipcfs.queues q on q.obj = o.id
	 where o.kind = 'queues' and o.name = mq_set.name
	for no key update of q;
	if not found then
		perform ipcfs.missing('queues', mq_set.name);
	end if;
	if cur > 0 then
		raise exception 'queue "%" holds % messages', mq_set.name, cur
			using errcode = 'IP016';
	end if;
	update ipcfs.queues q
	   set maxmsg = coalesce(mq_set.maxmsg, q.maxmsg),
	       msgsize = coalesce(mq_set.msgsize, q.msgsize), changed = now()
	 where q.obj = qid;
	perform ipcfs.notify('queues', 'c', qid, mq_set.name);
end $$;

--
-- Channels: a byte stream with pipe semantics. Capacity 4096..1073741824.
--

create function ipcfs.channel_create(name text, uid int, gid int, mode int,
				     capacity int) returns bigint
language plpgsql as $$
declare
	oid_ bigint;
	cap int := coalesce(channel_create.capacity, 65536);
begin
	if cap not between 4096 and 1073741824 then
		perform ipcfs.bad(format('capacity %s is out of range 4096..1073741824',
					 cap));
	end if;
	oid_ := ipcfs.create_object('channels', name, uid, gid, mode);
	insert into ipcfs.channels (obj, capacity) values (oid_, cap);
	return oid_;
end $$;

-- Count an open file of data on a mount. What it returns is what the EOF
-- rule needs, as of this open: writer_opens (writer opens ever, this one
-- included: "one opened it since" is a larger number later), writers open
-- on every mount, bytes buffered.
create function ipcfs.channel_open(name text, mount uuid, reading boolean,
				   writing boolean)
returns table(writer_opens bigint, writers int, bytes int)
language plpgsql as $$
declare
	cid bigint;
	r int := case when channel_open.reading then 1 else 0 end;
	w int := case when channel_open.writing then 1 else 0 end;
begin
	select c.obj into cid
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_open.name
	for no key update of c;
	if not found then
		perform ipcfs.missing('channels', channel_open.name);
	end if;
	perform ipcfs.mount_host(channel_open.mount);
	insert into ipcfs.openers as p (obj, mount, readers, writers)
	values (cid, channel_open.mount, r, w)
	on conflict on constraint openers_pkey do update
	   set readers = p.readers + r, writers = p.writers + w;
	update ipcfs.channels c set writer_opens = c.writer_opens + w
	 where c.obj = cid
	returning c.writer_opens, c.bytes
	     into channel_open.writer_opens, channel_open.bytes;
	select coalesce(sum(p.writers), 0) into channel_open.writers
	  from ipcfs.openers p where p.obj = cid;
	if channel_open.writing then -- a reader that saw none has one now
		perform ipcfs.notify('channels', 'c', cid, channel_open.name);
	end if;
	return next;
end $$;

-- Uncount an open file. Never an error: the channel or the mount's count
-- may be gone (removed, reclaimed) before the file is released.
create function ipcfs.channel_close(name text, mount uuid, reading boolean,
				    writing boolean) returns void
language plpgsql as $$
declare
	cid bigint;
begin
	select c.obj into cid
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_close.name
	for no key update of c;
	if not found then
		return;
	end if;
	update ipcfs.openers p
	   set readers = greatest(p.readers -
			 case when channel_close.reading then 1 else 0 end, 0),
	       writers = greatest(p.writers -
			 case when channel_close.writing then 1 else 0 end, 0)
	 where p.obj = cid and p.mount = channel_close.mount;
	delete from ipcfs.openers p
	 where p.obj = cid and p.mount = channel_close.mount
	   and p.readers = 0 and p.writers = 0;
	if channel_close.writing then -- readers may be at their end now
		perform ipcfs.notify('channels', 'c', cid, channel_close.name);
	end if;
end $$;

-- Append under the channel row's lock, so writes of every mount keep one
-- order. A write of at most 4096 bytes (PIPE_BUF) goes whole or not at
-- all; a longer one puts in what fits. 0: nothing fitted (would block).
create function ipcfs.channel_write(name text, data bytea) returns int
language plpgsql as $$
declare
	cid bigint;
	cap int;
	used int;
	len int := octet_length(channel_write.data);
	n int;
	s bigint;
begin
	select c.obj, c.capacity, c.bytes into cid, cap, used
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_write.name
	for no key update of c;
	if not found then
		perform ipcfs.missing('channels', channel_write.name);
	end if;
	n := least(len, cap - used);
	if n <= 0 or (len <= 4096 and n < len) then
		return 0;
	end if;
	update ipcfs.channels c
	   set bytes = c.bytes + n, tail = c.tail + 1, changed = now()
	 where c.obj = cid
	returning c.tail into s;
	insert into ipcfs.chunks (obj, seq, data)
	values (cid, s, case when n = len then channel_write.data
			     else substring(channel_write.data from 1 for n) end);
	if used = 0 then -- it was empty: readers may wait
		perform ipcfs.notify('channels', 'c', cid, channel_write.name);
	end if;
	return n;
end $$;

-- Take up to max bytes from the front: the whole chunks that fit, then the
-- head of the next one. Empty data ('\x'): nothing buffered; with writers,
-- writer_opens and eof the caller applies the EOF rule.
create function ipcfs.channel_read(name text, max int)
returns table(data bytea, writers int, writer_opens bigint, eof text)
language plpgsql as $$
declare
	cid bigint;
	cap int;
	used int;
	h bigint;
	got int := 0;
	last bigint;
	part bigint;
	need int;
	front bytea;
	c record;
begin
	if channel_read.max < 0 then
		perform ipcfs.bad(format('read of %s bytes', channel_read.max));
	end if;
	select ch.obj, ch.capacity, ch.bytes, ch.head, ch.writer_opens, ch.eof
	  into cid, cap, used, h, channel_read.writer_opens, channel_read.eof
	  from ipcfs.objects o join ipcfs.channels ch on ch.obj = o.id
	 where o.kind = 'channels' and o.name = channel_read.name
	for no key update of ch;
	if not found then
		perform ipcfs.missing('channels', channel_read.name);
	end if;
	select coalesce(sum(p.writers), 0) into channel_read.writers
	  from ipcfs.openers p where p.obj = cid;
	data := '\x';
	if used = 0 or channel_read.max = 0 then
		return next;
		return;
	end if;
	-- Which chunks: length() of an EXTERNAL value reads no data.
	for c in select k.seq, octet_length(k.data) as len
		   from ipcfs.chunks k where k.obj = cid and k.seq >= h
		  order by k.seq
	loop
		if got + c.len > channel_read.max then
			part := c.seq;
			need := channel_read.max - got;
			exit;
		end if;
		got := got + c.len;
		last := c.seq;
		exit when got = channel_read.max;
	end loop;
	if last is not null then
		with d as (
			delete from ipcfs.chunks k
			 where k.obj = cid and k.seq between h and last
			returning k.seq, k.data
		)
		select string_agg(d.data, '\x'::bytea order by d.seq)
		  into data from d;
	end if;
	if part is not null then
		select substring(k.data from 1 for need) into front
		  from ipcfs.chunks k where k.obj = cid and k.seq = part;
		update ipcfs.chunks k set data = substring(k.data from need + 1)
		 where k.obj = cid and k.seq = part;
		data := data || front;
		got := got + need;
	end if;
	update ipcfs.channels ch
	   set bytes = ch.bytes - got, head = coalesce(part, last + 1),
	       changed = now()
	 where ch.obj = cid;
	if cap - used < 4096 then -- a write may have been refused
		perform ipcfs.notify('channels', 'c', cid, channel_read.name);
	end if;
	return next;
end $$;

-- Bytes a reader took but could not deliver go back in front, even past
-- capacity.
create function ipcfs.channel_unread(name text, data bytea) returns void
language plpgsql as $$
declare
	cid bigint;
	used int;
	s bigint;
begin
	select c.obj, c.bytes, c.head - 1 into cid, used, s
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_unread.name
	for no key update of c;
	if not found then
		perform ipcfs.missing('channels', channel_unread.name);
	end if;
	if octet_length(channel_unread.data) = 0 then
		return;
	end if;
	insert into ipcfs.chunks (obj, seq, data)
	values (cid, s, channel_unread.data);
	update ipcfs.channels c
	   set bytes = c.bytes + octet_length(channel_unread.data), head = s
	 where c.obj = cid;
	if used = 0 then
		perform ipcfs.notify('channels', 'c', cid, channel_unread.name);
	end if;
end $$;

create function ipcfs.channel_attr(name text)
returns table(capacity int, bytes int, readers int, writers int, eof text)
language plpgsql stable as $$
declare
	cid bigint;
begin
	select c.obj, c.capacity, c.bytes, c.eof
	  into cid, capacity, bytes, eof
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_attr.name;
	if not found then
		perform ipcfs.missing('channels', channel_attr.name);
	end if;
	select coalesce(sum(p.readers), 0), coalesce(sum(p.writers), 0)
	  into readers, writers
	  from ipcfs.openers p where p.obj = cid;
	return next;
end $$;

-- Never below what is buffered: the bytes are somebody's.
create function ipcfs.channel_set(name text, capacity int, eof text)
returns void
language plpgsql as $$
declare
	cid bigint;
	used int;
begin
	if channel_set.capacity not between 4096 and 1073741824 then
		perform ipcfs.bad(format('capacity %s is out of range 4096..1073741824',
					 channel_set.capacity));
	end if;
	if channel_set.eof not in ('close', 'rmdir') then
		perform ipcfs.bad(format('eof "%s" is neither close nor rmdir',
					 channel_set.eof));
	end if;
	select c.obj, c.bytes into cid, used
	  from ipcfs.objects o join ipcfs.channels c on c.obj = o.id
	 where o.kind = 'channels' and o.name = channel_set.name
	for no key update of c;
	if not found then
		perform ipcfs.missing('channels', channel_set.name);
	end if;
	if channel_set.capacity < used then
		raise exception 'channel "%" holds % bytes, more than %',
			channel_set.name, used, channel_set.capacity
			using errcode = 'IP016';
	end if;
	update ipcfs.channels c
	   set capacity = coalesce(channel_set.capacity, c.capacity),
	       eof = coalesce(channel_set.eof, c.eof)
	 where c.obj = cid;
	-- Room for writers, or readers at their end (back to "close").
	perform ipcfs.notify('channels', 'c', cid, channel_set.name);
end $$;

--
-- Shared memory: pages of 8192 bytes, size at most 2^40.
--

create function ipcfs.shm_create(name text, uid int, gid int, mode int)
returns bigint
language plpgsql as $$
declare
	oid_ bigint;
begin
	oid_ := ipcfs.create_object('shm', name, uid, gid, mode);
	insert into ipcfs.shms (obj) values (oid_);
	return oid_;
end $$;

-- One statement, so one snapshot: a write (one transaction) is in what it
-- returns wholly or not at all. Short at the end, empty past it.
create function ipcfs.shm_read(name text, off bigint, len int) returns bytea
language plpgsql stable as $$
declare
	sid bigint;
	r bytea;
begin
	if shm_read.off < 0 or shm_read.len < 0 then
		perform ipcfs.bad(format('read of %s bytes at %s', shm_read.len,
					 shm_read.off));
	end if;
	select sh.obj, x.data into sid, r
	  from ipcfs.objects o join ipcfs.shms sh on sh.obj = o.id
	 cross join lateral (
		select least(shm_read.len::bigint, sh.size - shm_read.off) as n
	 ) c
	  left join lateral (
		select substring(string_agg(coalesce(p.data, ipcfs.zeros()),
					    '\x'::bytea order by g)
				 from (shm_read.off % 8192)::int + 1
				 for c.n::int) as data
		  from generate_series(shm_read.off / 8192,
				       (shm_read.off + c.n - 1) / 8192) g
		  left join ipcfs.pages p on p.obj = sh.obj and p.pageno = g
		 where c.n > 0
	  ) x on true
	 where o.kind = 'shm' and o.name = shm_read.name;
	if not found then
		perform ipcfs.missing('shm', shm_read.name);
	end if;
	return coalesce(r, '\x');
end $$;

-- Writers of a segment serialise on its row (the size); each page touched
-- is rewritten whole, the bytes outside the write kept. Readers see the
-- write all at once, at commit.
create function ipcfs.shm_write(name text, off bigint, data bytea)
returns int
language plpgsql as $$
declare
	sid bigint;
	len int := octet_length(shm_write.data);
	e bigint;
begin
	if shm_write.off < 0 then
		perform ipcfs.bad(format('write at %s', shm_write.off));
	end if;
	e := shm_write.off + len;
	if e > 1099511627776 then
		raise exception 'shm segment "%" would grow to % bytes, past 2^40',
			shm_write.name, e using errcode = 'IP027';
	end if;
	-- (a write of nothing grows nothing, as pwrite(2))
	update ipcfs.shms sh
	   set size = greatest(sh.size, case when len > 0 then e else 0 end),
	       changed = now()
	  from ipcfs.objects o
	 where o.kind = 'shm' and o.name = shm_write.name and sh.obj = o.id
	returning sh.obj into sid;
	if not found then
		perform ipcfs.missing('shm', shm_write.name);
	end if;
	if len = 0 then
		return 0;
	end if;
	-- Page g takes the write's bytes [a, b) of the segment at a - g*8192,
	-- a = greatest(off, g*8192), b = least(e, (g+1)*8192). A new page is
	-- those bytes over zeros; an old one gets them overlaid, unless they
	-- cover it all.
	insert into ipcfs.pages as p (obj, pageno, data)
	select sid, g,
	       overlay(ipcfs.zeros() placing
		       substring(shm_write.data
				 from (greatest(shm_write.off, g * 8192)
				       - shm_write.off + 1)::int
				 for (least(e, (g + 1) * 8192)
				      - greatest(shm_write.off, g * 8192))::int)
		       from (greatest(shm_write.off, g * 8192) - g * 8192
			     + 1)::int)
	  from generate_series(shm_write.off / 8192, (e - 1) / 8192) g
	on conflict (obj, pageno) do update
	   set data = case
		when shm_write.off <= excluded.pageno * 8192 and
		     e >= (excluded.pageno + 1) * 8192 then excluded.data
		else overlay(p.data placing
			substring(excluded.data
				  from (greatest(shm_write.off,
						 excluded.pageno * 8192)
					- excluded.pageno * 8192 + 1)::int
				  for (least(e, (excluded.pageno + 1) * 8192)
				       - greatest(shm_write.off,
						  excluded.pageno * 8192))::int)
			from (greatest(shm_write.off, excluded.pageno * 8192)
			      - excluded.pageno * 8192 + 1)::int)
		end;
	return len;
end $$;

create function ipcfs.shm_size(name text) returns bigint
language plpgsql stable as $$
declare
	s bigint;
begin
	select sh.size into s
	  from ipcfs.objects o join ipcfs.shms sh on sh.obj = o.id
	 where o.kind = 'shm' and o.name = shm_size.name;
	if not found then
		perform ipcfs.missing('shm', shm_size.name);
	end if;
	return s;
end $$;

-- What is cut is dropped (whole pages) or zeroed (the rest of the last
-- page), so growing again reads zeros, as ftruncate(2) says.
create function ipcfs.shm_truncate(name text, size bigint) returns void
language plpgsql as $$
declare
	sid bigint;
	old bigint;
	r int;
begin
	if shm_truncate.size < 0 then
		perform ipcfs.bad(format('size %s', shm_truncate.size));
	end if;
	if shm_truncate.size > 1099511627776 then
		raise exception 'size % is past 2^40', shm_truncate.size
			using errcode = 'IP027';
	end if;
	select sh.obj, sh.size into sid, old
	  from ipcfs.objects o join ipcfs.shms sh on sh.obj = o.id
	 where o.kind = 'shm' and o.name = shm_truncate.name
	for no key update of sh;
	if not found then
		perform ipcfs.missing('shm', shm_truncate.name);
	end if;
	update ipcfs.shms sh set size = shm_truncate.size, changed = now()
	 where sh.obj = sid;
	if shm_truncate.size >= old then
		return;
	end if;
	delete from ipcfs.pages p
	 where p.obj = sid and p.pageno >= (shm_truncate.size + 8191) / 8192;
	r := (shm_truncate.size % 8192)::int;
	if r > 0 then
		update ipcfs.pages p
		   set data = overlay(p.data placing
				      substring(ipcfs.zeros() from 1
						for 8192 - r) from r + 1)
		 where p.obj = sid and p.pageno = shm_truncate.size / 8192;
	end if;
end $$;

--
-- Semaphores: value 0..2147483647.
--

create function ipcfs.sem_create(name text, uid int, gid int, mode int,
				 value int) returns bigint
language plpgsql as $$
declare
	oid_ bigint;
	v int := coalesce(sem_create.value, 1);
begin
	if v < 0 then
		perform ipcfs.bad(format('value %s is negative', v));
	end if;
	oid_ := ipcfs.create_object('sem', name, uid, gid, mode);
	insert into ipcfs.sems (obj, value) values (oid_, v);
	return oid_;
end $$;

-- n units at once, or none: past SEM_VALUE_MAX nothing is posted.
create function ipcfs.sem_post(name text, n int) returns int
language plpgsql as $$
declare
	sid bigint;
	v int;
begin
	if sem_post.n is null or sem_post.n < 0 then
		perform ipcfs.bad(format('post of %s units', sem_post.n));
	end if;
	update ipcfs.sems s set value = s.value + sem_post.n, changed = now()
	  from ipcfs.objects o
	 where o.kind = 'sem' and o.name = sem_post.name and s.obj = o.id
	   and s.value::bigint + sem_post.n <= 2147483647
	returning s.obj, s.value into sid, v;
	if not found then
		select s.value into v
		  from ipcfs.objects o join ipcfs.sems s on s.obj = o.id
		 where o.kind = 'sem' and o.name = sem_post.name;
		if not found then
			perform ipcfs.missing('sem', sem_post.name);
		end if;
		raise exception 'semaphore "%" at % cannot take % more',
			sem_post.name, v, sem_post.n using errcode = 'IP075';
	end if;
	if v = sem_post.n and v > 0 then -- it was 0: waiters
		perform ipcfs.notify('sem', 'c', sid, sem_post.name);
	end if;
	return v;
end $$;

create function ipcfs.sem_trywait(name text) returns boolean
language plpgsql as $$
begin
	update ipcfs.sems s set value = s.value - 1, changed = now()
	  from ipcfs.objects o
	 where o.kind = 'sem' and o.name = sem_trywait.name and s.obj = o.id
	   and s.value > 0;
	if found then
		return true;
	end if;
	perform 1 from ipcfs.objects o
	 where o.kind = 'sem' and o.name = sem_trywait.name;
	if not found then
		perform ipcfs.missing('sem', sem_trywait.name);
	end if;
	return false;
end $$;

create function ipcfs.sem_value(name text) returns int
language plpgsql stable as $$
declare
	v int;
begin
	select s.value into v
	  from ipcfs.objects o join ipcfs.sems s on s.obj = o.id
	 where o.kind = 'sem' and o.name = sem_value.name;
	if not found then
		perform ipcfs.missing('sem', sem_value.name);
	end if;
	return v;
end $$;

-- A unit taken on behalf of a mount's process, recorded so that it comes
-- back when the mount ends however it ends (mount_release). Null: no unit.
create function ipcfs.sem_hold(name text, mount uuid, pid int)
returns bigint
language plpgsql as $$
declare
	sid bigint;
	h text := ipcfs.mount_host(sem_hold.mount);
	hid bigint;
begin
	update ipcfs.sems s set value = s.value - 1, changed = now()
	  from ipcfs.objects o
	 where o.kind = 'sem' and o.name = sem_hold.name and s.obj = o.id
	   and s.value > 0
	returning s.obj into sid;
	if not found then
		perform 1 from ipcfs.objects o
		 where o.kind = 'sem' and o.name = sem_hold.name;
		if not found then
			perform ipcfs.missing('sem', sem_hold.name);
		end if;
		return null;
	end if;
	insert into ipcfs.holds (obj, mount, pid, host)
	values (sid, sem_hold.mount, sem_hold.pid, h)
	returning id into hid;
	return hid;
end $$;

-- Nothing if the hold is gone (reclaimed, or its semaphore removed).
create function ipcfs.sem_release(hold bigint) returns void
language plpgsql as $$
declare
	sid bigint;
	v int;
begin
	delete from ipcfs.holds h where h.id = sem_release.hold
	returning h.obj into sid;
	if not found then
		return;
	end if;
	-- (a unit given back onto the maximum is lost, not an overflow)
	update ipcfs.sems s
	   set value = least(s.value::bigint + 1, 2147483647)::int,
	       changed = now()
	 where s.obj = sid
	returning s.value into v;
	if v = 1 then
		perform ipcfs.notify(o.kind, 'c', o.id, o.name)
		   from ipcfs.objects o where o.id = sid;
	end if;
end $$;

create function ipcfs.sem_holders(name text, mount uuid) returns setof text
language plpgsql stable as $$
declare
	sid bigint;
begin
	select s.obj into sid
	  from ipcfs.objects o join ipcfs.sems s on s.obj = o.id
	 where o.kind = 'sem' and o.name = sem_holders.name;
	if not found then
		perform ipcfs.missing('sem', sem_holders.name);
	end if;
	return query
	select case when h.mount = sem_holders.mount then h.pid::text
		    else h.pid || '@' || h.host end
	  from ipcfs.holds h where h.obj = sid order by h.since, h.id;
end $$;

--
-- Topics: every subscriber gets every message published after it
-- subscribed; one may fall backlog messages behind (1..1048576), past that
-- it loses its oldest, counted in dropped.
--

create function ipcfs.topic_create(name text, uid int, gid int, mode int,
				   backlog int) returns bigint
language plpgsql as $$
declare
	oid_ bigint;
	b int := coalesce(topic_create.backlog, 1024);
begin
	if b not between 1 and 1048576 then
		perform ipcfs.bad(format('backlog %s is out of range 1..1048576',
					 b));
	end if;
	oid_ := ipcfs.create_object('topics', name, uid, gid, mode);
	insert into ipcfs.topics (obj, backlog) values (oid_, b);
	return oid_;
end $$;

-- The topic row is share-locked: a publish running now either came first
-- (not for us) or waits and sees this subscription (and stores its
-- message). mount null: a subscription of no mount, never reclaimed.
create function ipcfs.topic_subscribe(name text, mount uuid) returns bigint
language plpgsql as $$
declare
	tid bigint;
	pub bigint;
	sub bigint;
begin
	select t.obj, t.published into tid, pub
	  from ipcfs.objects o join ipcfs.topics t on t.obj = o.id
	 where o.kind = 'topics' and o.name = topic_subscribe.name
	for share of t;
	if not found then
		perform ipcfs.missing('topics', topic_subscribe.name);
	end if;
	if topic_subscribe.mount is not null then
		perform ipcfs.mount_host(topic_subscribe.mount);
	end if;
	insert into ipcfs.subscriptions (obj, mount, next)
	values (tid, topic_subscribe.mount, pub + 1)
	returning id into sub;
	return sub;
end $$;

-- Never an error: at release, the subscription may be gone already.
create function ipcfs.topic_unsubscribe(sub bigint) returns void
language plpgsql as $$
declare
	tid bigint;
	lo bigint;
begin
	delete from ipcfs.subscriptions s where s.id = topic_unsubscribe.sub
	returning s.obj into tid;
	if not found then
		return;
	end if;
	-- Exclusive against a give-back (topic_unread) in flight.
	perform 1 from ipcfs.topics t where t.obj = tid for no key update;
	-- What nobody needs any more (all of it when nobody is left).
	select min(s.next) into lo from ipcfs.subscriptions s
	 where s.obj = tid;
	delete from ipcfs.topic_messages m
	 where m.obj = tid and (lo is null or m.seq < lo);
end $$;

-- Returns the message's seq, which is the number published so far. A
-- message is stored only if somebody is subscribed, and kept while a
-- subscriber still needs it and it is less than backlog behind the newest.
create function ipcfs.topic_publish(name text, data bytea) returns bigint
language plpgsql as $$
declare
	tid bigint;
	s bigint;
	b int;
	lo bigint;
begin
	if octet_length(topic_publish.data) > 1044480 then
		raise exception 'message of % bytes is larger than 1044480',
			octet_length(topic_publish.data) using errcode = 'IP090';
	end if;
	update ipcfs.topics t set published = t.published + 1, changed = now()
	  from ipcfs.objects o
	 where o.kind = 'topics' and o.name = topic_publish.name
	   and t.obj = o.id
	returning t.obj, t.published, t.backlog into tid, s, b;
	if not found then
		perform ipcfs.missing('topics', topic_publish.name);
	end if;
	select min(x.next) into lo from ipcfs.subscriptions x
	 where x.obj = tid;
	if lo is null then
		return s;
	end if;
	insert into ipcfs.topic_messages (obj, seq, data)
	values (tid, s, topic_publish.data);
	delete from ipcfs.topic_messages m
	 where m.obj = tid and m.seq < greatest(lo, s - b + 1);
	perform ipcfs.notify('topics', 'c', tid, topic_publish.name);
	return s;
end $$;

-- The subscription's next message, advancing it. One that fell more than
-- backlog behind first skips to the oldest kept, and what it skipped is
-- counted in dropped.
create function ipcfs.topic_read(sub bigint)
returns table(data bytea, seq bigint)
language plpgsql as $$
declare
	tid bigint;
	nx bigint;
	pub bigint;
	b int;
	skipped bigint;
	got boolean;
begin
	select s.obj, s.next into tid, nx from ipcfs.subscriptions s
	 where s.id = topic_read.sub
	for no key update;
	if not found then
		raise exception 'subscription % does not exist', topic_read.sub
			using errcode = 'IP002';
	end if;
	select t.published, t.backlog into pub, b from ipcfs.topics t
	 where t.obj = tid;
	if nx > pub then
		return;
	end if;
	select m.seq, m.data into seq, data
	  from ipcfs.topic_messages m
	 where m.obj = tid and m.seq >= greatest(nx, pub - b + 1)
	 order by m.seq limit 1;
	got := found;
	if got then
		skipped := seq - nx;
	else -- (all gone: only after a smaller backlog was set)
		skipped := pub + 1 - nx;
	end if;
	if skipped > 0 then
		update ipcfs.topics t set dropped = t.dropped + skipped
		 where t.obj = tid;
	end if;
	update ipcfs.subscriptions s set next = nx + skipped + 1
	 where s.id = topic_read.sub;
	if got then
		return next;
	end if;
end $$;

-- A message the reader could not deliver: the subscription goes back to
-- it, and it is stored again if it was pruned meanwhile.
create function ipcfs.topic_unread(sub bigint, seq bigint, data bytea)
returns void
language plpgsql as $$
declare
	tid bigint;
	nx bigint;
begin
	-- The topic row first, shared: a publish or an unsubscribe (which
	-- lock it exclusively) prunes what nobody needs between reading the
	-- readers' positions and deleting, and must not prune what this gives
	-- back meanwhile.
	select s.obj into tid from ipcfs.subscriptions s
	 where s.id = topic_unread.sub;
	perform 1 from ipcfs.topics t where t.obj = tid for share;
	select s.obj, s.next into tid, nx from ipcfs.subscriptions s
	 where s.id = topic_unread.sub
	for no key update;
	if not found then
		raise exception 'subscription % does not exist', topic_unread.sub
			using errcode = 'IP002';
	end if;
	if topic_unread.seq < nx then
		update ipcfs.subscriptions s set next = topic_unread.seq
		 where s.id = topic_unread.sub;
	end if;
	insert into ipcfs.topic_messages (obj, seq, data)
	values (tid, topic_unread.seq, topic_unread.data)
	on conflict do nothing;
	perform ipcfs.notify(o.kind, 'c', o.id, o.name)
	   from ipcfs.objects o where o.id = tid;
end $$;

create function ipcfs.topic_attr(name text)
returns table(subscribers int, published bigint, dropped bigint,
	      backlog int)
language plpgsql stable as $$
declare
	tid bigint;
begin
	select t.obj, t.published, t.dropped, t.backlog
	  into tid, published, dropped, backlog
	  from ipcfs.objects o join ipcfs.topics t on t.obj = o.id
	 where o.kind = 'topics' and o.name = topic_attr.name;
	if not found then
		perform ipcfs.missing('topics', topic_attr.name);
	end if;
	select count(*) into subscribers from ipcfs.subscriptions s
	 where s.obj = tid;
	return next;
end $$;

create function ipcfs.topic_set(name text, backlog int) returns void
language plpgsql as $$
begin
	if topic_set.backlog is null or
	   topic_set.backlog not between 1 and 1048576 then
		perform ipcfs.bad(format('backlog %s is out of range 1..1048576',
					 topic_set.backlog));
	end if;
	update ipcfs.topics t set backlog = topic_set.backlog
	  from ipcfs.objects o
	 where o.kind = 'topics' and o.name = topic_set.name and t.obj = o.id;
	if not found then
		perform ipcfs.missing('topics', topic_set.name);
	end if;
end $$;

--
-- Tagged calls (conn.c's pg_call): a call that a daemon may have to send
-- again, because its connection broke before the answer came, is done
-- once however often it comes. Its last parameter, the tag "MOUNT KEY N
-- SUM", names the mount's file handle (KEY), the handle's call (N: a new
-- number only once the last call was answered) and what it sends (SUM).
-- ipcfs.calls keeps each handle's last call and its answer: the same call
-- again gets that answer (a message is not sent twice; a receive gets the
-- message it took). A receive's message is kept in the calls row, with
-- its priority and seq, until the handle's next call (then it was
-- delivered) or ipcfs.settle() (delivered, or given back in its place if
-- its answer never came).
--

-- No foreign key to mounts: a key-share lock on the mount's row by every
-- call would make its daemon's calls contend on one row. mount_release
-- drops a mount's rows (what a dead daemon took counts as delivered: a
-- message may be lost with the daemon, never doubled).
create table ipcfs.calls (
	mount uuid not null,
	key bigint not null,
	n bigint not null,
	sum text not null,
	obj bigint references ipcfs.objects on delete cascade,
	sent boolean, -- a send's answer
	prio int, -- a receive's message, when it got one
	seq bigint,
	data bytea,
	primary key (mount, key)
) with (fillfactor = 50);
alter table ipcfs.calls alter column data set storage external;

-- The tag's parts. A plain SQL function: the tagged calls below are the
-- daemon's hot path, and a regex and plpgsql here cost 20 us a call.
create function ipcfs.tag_parse(tag text, out mount uuid, out key bigint,
				out n bigint, out sum text)
language sql immutable as $$
	select a[1]::uuid, a[2]::bigint, a[3]::bigint, coalesce(a[4], '')
	  from string_to_array(tag, ' ') a
$$;

-- One call of a handle at a time, in the database too: a call the daemon
-- gave up on (its connection broke) may still be running when the same
-- call comes again, or the handle is settled; this lock (the handle's,
-- until commit) makes the later one wait and then see what the first did.
create function ipcfs.tag_lock(mount uuid, key bigint) returns void
language sql as $$
	select pg_advisory_xact_lock(hashtextextended(mount::text, key))
$$;

-- Calls of one file handle come one at a time (tag_lock), so nothing
-- here locks the calls row itself. Only what changed
-- something is recorded: a send that stored its message; a receive that
-- took one. A refused send or an empty receive, sent again, just runs
-- again.
create function ipcfs.mq_send(name text, data bytea, prio int, tag text)
returns boolean
language plpgsql as $$
declare
	t record;
begin
	t := ipcfs.tag_parse(mq_send.tag);
	perform ipcfs.tag_lock(t.mount, t.key);
	perform 1 from ipcfs.calls k
	 where k.mount = t.mount and k.key = t.key and k.n = t.n
	   and k.sum = t.sum and k.sent;
	if found then
		return true; -- done already
	end if;
	if not ipcfs.mq_send(mq_send.name, mq_send.data, mq_send.prio) then
		return false;
	end if;
	insert into ipcfs.calls as k (mount, key, n, sum, sent)
	values (t.mount, t.key, t.n, t.sum, true)
	on conflict on constraint calls_pkey do update
	   set n = excluded.n, sum = excluded.sum, obj = null, sent = true,
	       prio = null, seq = null, data = null;
	return true;
end $$;

create function ipcfs.mq_receive(name text, tag text)
returns table(data bytea, prio int, seq bigint)
language plpgsql as $$
declare
	t record;
	c record;
begin
	t := ipcfs.tag_parse(mq_receive.tag);
	perform ipcfs.tag_lock(t.mount, t.key);
	select k.n, k.sum, k.prio, k.seq, k.data into c from ipcfs.calls k
	 where k.mount = t.mount and k.key = t.key;
	if found and c.n = t.n and c.sum = t.sum then
		-- done already: the message it took, again
		data := c.data;
		prio := c.prio;
		seq := c.seq;
		return next;
		return;
	end if;
	select r.data, r.prio, r.seq into data, prio, seq
	  from ipcfs.mq_receive(mq_receive.name) r;
	if data is null then
		return;
	end if;
	insert into ipcfs.calls as k (mount, key, n, sum, obj, prio, seq, data)
	select t.mount, t.key, t.n, t.sum, o.id, prio, seq, data
	  from ipcfs.objects o
	 where o.kind = 'queues' and o.name = mq_receive.name
	on conflict on constraint calls_pkey do update
	   set n = excluded.n, sum = excluded.sum, obj = excluded.obj,
	       sent = null, prio = excluded.prio, seq = excluded.seq,
	       data = excluded.data;
	return next;
end $$;

-- Handles of a mount that are done (closed): forget their last calls. A
-- handle whose last call (number n) never got its answer (doubt) gives
-- back the message that call took, if it took one; a message an earlier,
-- answered call took was delivered.
create function ipcfs.settle(mount uuid, keys bigint[], doubt boolean[],
			     ns bigint[])
returns void
language plpgsql as $$
declare
	r record;
begin
	perform ipcfs.tag_lock(settle.mount, u.key)
	   from unnest(settle.keys) u(key) order by u.key;
	for r in
		delete from ipcfs.calls k
		 using unnest(settle.keys, settle.doubt, settle.ns)
		       as u(key, doubt, n)
		 where k.mount = settle.mount and k.key = u.key
		returning k.obj, k.prio, k.seq, k.data, u.doubt and k.n = u.n
			  as back
	loop
		if r.back and r.data is not null then
			perform ipcfs.mq_give_back(o.name, r.data, r.prio,
						   r.seq)
			   from ipcfs.objects o
			  where o.id = r.obj and o.kind = 'queues';
		end if;
	end loop;
end $$;

-- The extension's catalog as sorted text lines, for test/integration/upgrade.sh to
-- compare an upgraded database with a fresh install: every object of schema chatwoot
-- and every member of the extension, columns in order, constraints, indexes,
-- triggers (also those rastrear put on the app's tables), function definitions,
-- views, grants (ACLs and pg_init_privs, and the app's declared in _acessos_app),
-- comments, config tables, event triggers.
-- Names only, never OIDs, so two databases compare line by line.
WITH ext AS (
    SELECT e.oid, e.extversion, e.extconfig, e.extcondition FROM pg_extension e WHERE e.extname = 'chatwoot_sync'
), members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
    SELECT c.* FROM pg_class c WHERE c.relnamespace = 'chatwoot'::regnamespace
), procs AS (
    SELECT p.* FROM pg_proc p WHERE p.pronamespace = 'chatwoot'::regnamespace
), lines(line) AS (
    SELECT 'version ' || extversion FROM ext
    UNION ALL SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM members m
    UNION ALL SELECT 'config ' || x::regclass FROM ext, unnest(ext.extconfig) x
    UNION ALL SELECT 'config condition ' || x FROM ext, unnest(ext.extcondition) x
    UNION ALL SELECT format('relation %s kind=%s persistence=%s options=%s replident=%s owner=%s', c.oid::regclass,
                            c.relkind, c.relpersistence, c.reloptions, c.relreplident, c.relowner::regrole)
                FROM rels c
    UNION ALL SELECT format('column %s #%s %s %s notnull=%s default=%s identity=%s generated=%s storage=%s collation=%s',
                            a.attrelid::regclass, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
                            format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                            a.attidentity, a.attgenerated, a.attstorage, a.attcollation::regcollation)
                FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid
                LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
               WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT format('constraint %s %s %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
                FROM pg_constraint k JOIN rels c ON c.oid = k.conrelid
    UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL SELECT format('sequence %s %s start=%s inc=%s min=%s max=%s cache=%s cycle=%s', s.seqrelid::regclass,
                            s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
                FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
    UNION ALL SELECT format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
                FROM pg_trigger t
               WHERE NOT t.tgisinternal
                 AND (t.tgrelid IN (SELECT oid FROM rels) OR t.tgfoid IN (SELECT oid FROM procs))
    UNION ALL SELECT format('event trigger %s on %s %s tags=%s enabled=%s', e.evtname, e.evtevent,
                            e.evtfoid::regprocedure, e.evttags, e.evtenabled)
                FROM pg_event_trigger e
    UNION ALL SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid) FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL SELECT 'function ' || p.oid::regprocedure || ' owner=' || p.proowner::regrole || ' ' || pg_get_functiondef(p.oid)
                FROM procs p
    UNION ALL SELECT format('type %s %s', t.oid::regtype, t.typtype) FROM pg_type t
               WHERE t.typnamespace = 'chatwoot'::regnamespace
    UNION ALL SELECT format('acl schema %s %s', n.nspname, x)
                FROM pg_namespace n, unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) x WHERE n.nspname = 'chatwoot'
    UNION ALL SELECT format('acl %s %s', c.oid::regclass, x)
                FROM rels c, unnest(coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char",
                                                                  c.relowner))) x
    UNION ALL SELECT format('acl %s.%s %s', a.attrelid::regclass, a.attname, x)
                FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid, unnest(a.attacl) x
               WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT format('acl %s %s', p.oid::regprocedure, x)
                FROM procs p, unnest(coalesce(p.proacl, acldefault('f', p.proowner))) x
    UNION ALL SELECT format('initpriv %s %s %s', pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, x)
                FROM pg_init_privs i, unnest(i.initprivs) x
               WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM members)
                  OR (i.classoid = 'pg_namespace'::regclass AND i.objoid = 'chatwoot'::regnamespace)
    UNION ALL SELECT format('comment %s %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
                FROM pg_description d
               WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
                  OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
    -- Data the scripts write and the code reads as definitions: the app role's grants.
    UNION ALL SELECT format('declared grant %s ON %s configurar=%s', a.privilegio, a.objeto, a.para_configurar)
                FROM chatwoot._acessos_app a
)
SELECT line FROM lines ORDER BY line COLLATE "C";

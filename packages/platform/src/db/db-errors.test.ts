import { MeziteError, notFound, type ErrorCode } from '@mezite/identity';
import { Client } from 'pg';
import { translateDbError } from './db-errors';
import { createTestDatabase, type TestDatabase } from './test-database';

/** A stand-in for Prisma's error classes: same name and fields, as Prisma 7.10 + adapter-pg 7.10 throw them. */
function prismaKnown(code: string, meta: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`Invalid invocation: ${code}`), { name: 'PrismaClientKnownRequestError', code, meta, clientVersion: '7.10.1' });
}
function adapterError(cause: Record<string, unknown>): Error {
  return Object.assign(new Error(String(cause.kind)), { name: 'DriverAdapterError', cause });
}
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect', address: '127.0.0.1', port: 5432 });
}
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

describe('translateDbError', () => {
  test.each<[string, unknown, ErrorCode]>([
    ['Prisma P2002 (unique)', prismaKnown('P2002', { driverAdapterError: adapterError({ kind: 'UniqueConstraintViolation', originalCode: '23505', constraint: { index: 'join_tokens_token_hash_key' } }) }), 'AlreadyExists'],
    ['Prisma P2002 without meta', prismaKnown('P2002'), 'AlreadyExists'],
    ['Prisma P2025 (record not found)', prismaKnown('P2025'), 'NotFound'],
    ['Prisma P2010 raw query, unique violation', prismaKnown('P2010', { driverAdapterError: adapterError({ kind: 'UniqueConstraintViolation', originalCode: '23505' }) }), 'AlreadyExists'],
    ['Prisma P2010 raw query, admin shutdown', prismaKnown('P2010', { driverAdapterError: adapterError({ kind: 'postgres', originalCode: '57P01', code: '57P01', severity: 'FATAL' }) }), 'Unavailable'],
    ['Prisma P2039 database error, cannot connect now', prismaKnown('P2039', { driverAdapterError: adapterError({ kind: 'postgres', originalCode: '57P03' }) }), 'Unavailable'],
    ['Prisma P1001 (cannot reach server)', prismaKnown('P1001', { driverAdapterError: adapterError({ kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 }) }), 'Unavailable'],
    ['Prisma P1017 (connection closed)', prismaKnown('P1017'), 'Unavailable'],
    ['Prisma P2024 (pool timeout)', prismaKnown('P2024'), 'Unavailable'],
    ['Prisma initialization error', Object.assign(new Error("Can't reach database server"), { name: 'PrismaClientInitializationError', errorCode: 'P1001' }), 'Unavailable'],
    ['bare DriverAdapterError, socket timeout', adapterError({ kind: 'SocketTimeout' }), 'Unavailable'],
    ['plain Error from a dying connect (Prisma rethrows it)', Object.assign(new Error('Connection terminated unexpectedly'), { clientVersion: '7.10.1' }), 'Unavailable'],
    ['pg connect timeout', new Error('Connection terminated due to connection timeout'), 'Unavailable'],
    ['pg-pool connect timeout', new Error('timeout exceeded when trying to connect'), 'Unavailable'],
    ['ECONNREFUSED', socketError('ECONNREFUSED'), 'Unavailable'],
    ['ECONNRESET', socketError('ECONNRESET'), 'Unavailable'],
    ['AggregateError of refused addresses', Object.assign(new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')]), { code: 'ECONNREFUSED' }), 'Unavailable'],
    ['SQLSTATE 23505', pgError('23505', 'duplicate key value violates unique constraint "a_pkey"'), 'AlreadyExists'],
    ['SQLSTATE 08006', pgError('08006', 'connection failure'), 'Unavailable'],
    ['SQLSTATE 57P01', pgError('57P01', 'terminating connection due to administrator command'), 'Unavailable'],
    ['SQLSTATE 57P03', pgError('57P03', 'the database system is starting up'), 'Unavailable'],
    ['SQLSTATE 53300', pgError('53300', 'sorry, too many clients already'), 'Unavailable'],
    ['wrapped in a cause', new Error('store failed', { cause: socketError('ECONNREFUSED') }), 'Unavailable'],
    ['Prisma P2003 (foreign key)', prismaKnown('P2003'), 'Internal'],
    ['SQLSTATE 42P01 (undefined table)', pgError('42P01', 'relation "x" does not exist'), 'Internal'],
    ['a query error whose text mentions a connection', pgError('22023', 'invalid value: connection terminated'), 'Internal'],
    ['a TypeError', new TypeError('x is undefined'), 'Internal'],
    ['a string', 'boom', 'Internal'],
    ['null', null, 'Internal'],
  ])('%s → %s', (_what, err, code) => {
    const out = translateDbError(err, 'join token');
    expect(out).toBeInstanceOf(MeziteError);
    expect(out.code).toBe(code);
    expect(out.cause).toBe(err);
  });

  test('messages name the thing and never carry driver text', () => {
    expect(translateDbError(prismaKnown('P2002'), 'join token').message).toBe('join token already exists');
    expect(translateDbError(prismaKnown('P2025'), 'bot').message).toBe('bot not found');
    expect(translateDbError(prismaKnown('P2025')).message).toBe('record not found');
    expect(translateDbError(socketError('ECONNREFUSED')).message).toBe('database unavailable');
    expect(translateDbError(pgError('42P01', 'relation "secret_table" does not exist')).message).toBe('internal error');
  });

  test('a MeziteError passes through unchanged', () => {
    const e = notFound('bot not found');
    expect(translateDbError(e)).toBe(e);
  });
});

describe('translateDbError with a real PostgreSQL', () => {
  let db: TestDatabase;
  let sql: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new Client(db.url);
    sql.on('error', () => undefined);
    await sql.connect();
    await sql.query('CREATE TABLE t (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await sql?.end().catch(() => undefined);
    await db?.drop();
  });

  const caught = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);

  test('a duplicate key is AlreadyExists', async () => {
    await sql.query('INSERT INTO t VALUES (1)');
    expect(translateDbError(await caught(sql.query('INSERT INTO t VALUES (1)')), 'row').code).toBe('AlreadyExists');
  });

  test('a closed port is Unavailable', async () => {
    const c = new Client({ connectionString: 'postgresql://postgres@127.0.0.1:1/test' });
    expect(translateDbError(await caught(c.connect())).code).toBe('Unavailable');
  });

  test('a session the server terminates is Unavailable', async () => {
    const victim = new Client(db.url);
    victim.on('error', () => undefined);
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const pending = caught(victim.query('SELECT pg_sleep(5)'));
    await new Promise((r) => setTimeout(r, 200));
    await sql.query('SELECT pg_terminate_backend($1)', [pid]);
    const err = await pending;
    expect(translateDbError(err).code).toBe('Unavailable');
    // and the next query on the dead client
    expect(translateDbError(await caught(victim.query('SELECT 1'))).code).toBe('Unavailable');
    await victim.end().catch(() => undefined);
  });
});

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSystem is a Redis list with LPUSH / BRPOP, on a server with
// appendonly yes and appendfsync always (each write fsynced before the
// reply).
type redisSystem struct {
	addr     string
	admin    *redis.Client
	settings string
}

const redisKey = "bench:q"

func newRedis(ctx context.Context, addr string) (*redisSystem, error) {
	s := &redisSystem{addr: addr, admin: newRedisClient(addr)}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.admin.Ping(cctx).Err(); err != nil {
		s.admin.Close()
		return nil, fmt.Errorf("Redis at %s: %w", addr, err)
	}
	aof, err1 := s.admin.ConfigGet(ctx, "appendonly").Result()
	fsync, err2 := s.admin.ConfigGet(ctx, "appendfsync").Result()
	if err := errors.Join(err1, err2); err != nil {
		s.admin.Close()
		return nil, err
	}
	if aof["appendonly"] != "yes" || fsync["appendfsync"] != "always" {
		s.admin.Close()
		return nil, fmt.Errorf("Redis not durable: appendonly=%s appendfsync=%s", aof["appendonly"], fsync["appendfsync"])
	}
	version := ""
	if info, err := s.admin.InfoMap(ctx, "server").Result(); err == nil {
		version = info["Server"]["redis_version"]
	}
	s.settings = fmt.Sprintf("Redis %s, appendonly=yes, appendfsync=always", version)
	return s, nil
}

// newRedisClient opens a client with a single connection: one connection per worker,
// like the SQL systems.
func newRedisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, MinIdleConns: 1, MaxRetries: -1,
		DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
}

func (s *redisSystem) Name() string     { return "redis" }
func (s *redisSystem) Settings() string { return s.settings }
func (s *redisSystem) Bound() bool      { return false }
func (s *redisSystem) Polls() bool      { return false }
func (s *redisSystem) Close() error     { return s.admin.Close() }

func (s *redisSystem) Reset(ctx context.Context) error { return s.admin.Del(ctx, redisKey).Err() }

func (s *redisSystem) Prefill(ctx context.Context, payloads [][]byte) error {
	for start := 0; start < len(payloads); start += 1000 {
		end := min(start+1000, len(payloads))
		vals := make([]any, 0, end-start)
		for _, p := range payloads[start:end] {
			vals = append(vals, p)
		}
		if err := s.admin.LPush(ctx, redisKey, vals...).Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *redisSystem) Remaining(ctx context.Context) ([]uint64, error) {
	var ids []uint64
	for start := int64(0); ; start += 1000 {
		vals, err := s.admin.LRange(ctx, redisKey, start, start+999).Result()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			ids = append(ids, messageID([]byte(v)))
		}
		if len(vals) < 1000 {
			return ids, nil
		}
	}
}

func (s *redisSystem) client(ctx context.Context) (*redis.Client, error) {
	c := newRedisClient(s.addr)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *redisSystem) NewProducer(ctx context.Context) (Producer, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	return &redisProducer{c: c}, nil
}

func (s *redisSystem) NewConsumer(ctx context.Context) (Consumer, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	return &redisConsumer{c: c}, nil
}

type redisProducer struct{ c *redis.Client }

func (p *redisProducer) Put(payload []byte) error {
	return p.c.LPush(context.Background(), redisKey, payload).Err()
}
func (p *redisProducer) Close() error { return p.c.Close() }

type redisConsumer struct{ c *redis.Client }

func (c *redisConsumer) Get() ([][]byte, error) {
	kv, err := c.c.BRPop(context.Background(), time.Second, redisKey).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return [][]byte{[]byte(kv[1])}, nil
}
func (c *redisConsumer) Close() error { return c.c.Close() }

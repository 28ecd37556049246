package host

import "github.com/imscript/imscript/script"

// The table shapes the API takes and gives (settings, results), named for
// editors (API). TestAPIRecords keeps the settings in step with the
// names the declarations accept.

var framingFields = map[string]script.Field{
	"open_length_check":     {Type: "boolean", Doc: "Length-prefixed framing."},
	"package_length_type":   {Type: "string", Doc: `The length field's pack format ("N", "n", "V", "v", "C", ...).`},
	"package_length_offset": {Type: "integer", Doc: "Where the length field starts."},
	"package_body_offset":   {Type: "integer", Doc: "Where the body starts (the length counts the body)."},
	"open_eof_check":        {Type: "boolean", Doc: "Delimiter framing."},
	"open_eof_split":        {Type: "boolean", Doc: "Delimiter framing, one package per receive."},
	"package_eof":           {Type: "string", Doc: "The delimiter (1 to 8 bytes)."},
	"package_max_length":    {Type: "integer", Doc: "The largest package accepted (default 2 MiB)."},
	"buffer_output_size":    {Type: "integer", Doc: "Most bytes queued for one connection (default 2 MiB)."},
}

func settingsRecord() map[string]script.Field {
	f := map[string]script.Field{
		"host":                     {Type: "string", Doc: "The address to listen on."},
		"port":                     {Type: "integer", Doc: "The port (0: a free one, in srv.port once started)."},
		"type":                     {Type: `"tcp"|"udp"|"http"|"websocket"`, Doc: "The server type (default tcp)."},
		"worker_num":               {Type: "integer", Doc: "Script workers (VMs); host-wide, the first server's value wins."},
		"max_connection":           {Type: "integer", Doc: "Accepted connections at once."},
		"heartbeat_check_interval": {Type: "number", Doc: "Seconds between idle checks."},
		"heartbeat_idle_time":      {Type: "number", Doc: "Seconds of silence after which a connection is closed."},
		"max_exec_ms":              {Type: "integer", Doc: "Watchdog: a handler running longer is interrupted (default 5000; 0 = off)."},
		"max_wait_time":            {Type: "number", Doc: "Seconds a replaced version may go on answering after a reload."},
		"http_max_header_size":     {Type: "integer", Doc: "Largest request line and headers (default 16 KiB)."},
		"document_root":            {Type: "string", Doc: "Serve static files under it for GET/HEAD requests no handler answers."},
		"websocket_origins":        {Type: "string[]", Doc: "The Origins a WebSocket upgrade may come from."},
		"websocket_subprotocols":   {Type: "string[]", Doc: "The subprotocols offered."},
		"websocket_compression":    {Type: "boolean", Doc: "permessage-deflate."},
		"ssl_cert_file":            {Type: "string", Doc: "TLS certificate (PEM)."},
		"ssl_key_file":             {Type: "string", Doc: "TLS key (PEM)."},
		"task_worker_num":          {Type: "integer", Doc: "Task workers (VMs)."},
		"task_max_queue":           {Type: "integer", Doc: "The bound on queued tasks."},
		"ordered":                  {Type: "boolean", Doc: "A connection's events wait while its handler is suspended (default true)."},
		"history_size":             {Type: "integer", Doc: "Messages kept per room (0 = no history)."},
		"history_ttl":              {Type: "number", Doc: "Seconds a message is kept."},
		"recovery_max":             {Type: "integer", Doc: "Most messages one recovery delivers (default 300)."},
		"presence_events":          {Type: "boolean", Doc: "Fire presence events."},
	}
	for k, v := range framingFields {
		f[k] = v
	}
	return optional(f)
}

func clientRecord() map[string]script.Field {
	f := map[string]script.Field{
		"type":    {Type: `"tcp"|"udp"`, Doc: "The client type (default tcp)."},
		"host":    {Type: "string", Doc: "The host to connect to."},
		"port":    {Type: "integer", Doc: "The port to connect to."},
		"timeout": {Type: "number", Doc: "Seconds to connect."},
	}
	for k, v := range framingFields {
		f[k] = v
	}
	return optional(f)
}

// optional marks every field optional.
func optional(f map[string]script.Field) map[string]script.Field {
	out := make(map[string]script.Field, len(f))
	for k, v := range f {
		out[k+"?"] = v
	}
	return out
}

var apiRecords = []script.Record{
	{Name: "ServerSettings", Doc: "The settings of imscript.server (Swoole's names).", Fields: settingsRecord()},
	{Name: "ClientSettings", Doc: "The settings of imscript.client.", Fields: clientRecord()},
	{Name: "ConnectionInfo", Doc: "srv:info(fd).", Fields: map[string]script.Field{
		"fd":           {Type: "integer", Doc: "The connection."},
		"remote_ip":    {Type: "string", Doc: "The peer's address."},
		"remote_port":  {Type: "integer", Doc: "The peer's port."},
		"server_port":  {Type: "integer", Doc: "The server's port."},
		"connect_time": {Type: "number", Doc: "When it connected (Unix seconds)."},
		"last_time":    {Type: "number", Doc: "When it last sent something (Unix seconds)."},
		"worker_id":    {Type: "integer", Doc: "The worker that owns it."},
		"uid?":         {Type: "string|integer", Doc: "Its user id."},
	}},
	{Name: "ServerStats", Doc: "srv:stats().", Fields: map[string]script.Field{
		"start_time":        {Type: "number", Doc: "When the server started (Unix seconds)."},
		"connection_num":    {Type: "integer", Doc: "Connections now."},
		"accept_count":      {Type: "integer", Doc: "Connections accepted."},
		"close_count":       {Type: "integer", Doc: "Connections closed."},
		"reject_count":      {Type: "integer", Doc: "Connections refused (max_connection)."},
		"request_count":     {Type: "integer", Doc: "Requests / packages / messages handled."},
		"bytes_in":          {Type: "integer", Doc: "Bytes read."},
		"bytes_out":         {Type: "integer", Doc: "Bytes written."},
		"worker_num":        {Type: "integer", Doc: "Workers."},
		"task_queue_num":    {Type: "integer", Doc: "Tasks waiting."},
		"task_worker_num":   {Type: "integer", Doc: "Task workers."},
		"reload_count":      {Type: "integer", Doc: "Reloads done."},
		"error_count":       {Type: "integer", Doc: "Handler errors."},
		"node":              {Type: "string", Doc: "This node's name."},
		"cluster_nodes":     {Type: "integer", Doc: "Nodes in the cluster."},
		"history_recovered": {Type: "integer", Doc: "Messages delivered by recoveries."},
		"broker_errors":     {Type: "integer", Doc: "Broker calls that failed (NATS timeouts, no quorum); each is also logged."},
		"broker_waiting":    {Type: "integer", Doc: "Script calls waiting for the cluster off their workers (publish, history, ...)."},
	}},
	{Name: "JoinResult", Doc: "What join and bind (with options) return.", Fields: map[string]script.Field{
		"seq":        {Type: "integer", Doc: "The channel's last seq."},
		"epoch":      {Type: "string", Doc: "The channel's epoch."},
		"recovered?": {Type: "boolean", Doc: "With since: whether every missed message was delivered."},
	}},
	{Name: "Position", Doc: "A channel's position.", Fields: map[string]script.Field{
		"seq":   {Type: "integer", Doc: "The last seq."},
		"epoch": {Type: "string", Doc: "The epoch (changes when history was lost)."},
	}},
	{Name: "HistoryItem", Doc: "A message kept in history.", Fields: map[string]script.Field{
		"seq":  {Type: "integer", Doc: "Its seq."},
		"ts":   {Type: "integer", Doc: "When it was published (ms)."},
		"data": {Type: "string", Doc: "The payload."},
	}},
	{Name: "CookieOptions", Doc: "res:cookie's options.", Fields: optional(map[string]script.Field{
		"expires":  {Type: "number", Doc: "Unix seconds."},
		"max_age":  {Type: "integer", Doc: "Seconds."},
		"path":     {Type: "string", Doc: "Path."},
		"domain":   {Type: "string", Doc: "Domain."},
		"secure":   {Type: "boolean", Doc: "HTTPS only."},
		"httponly": {Type: "boolean", Doc: "Not visible to page scripts."},
		"samesite": {Type: `"Lax"|"Strict"|"None"|"lax"|"strict"|"none"`, Doc: "SameSite."},
	})},
	{Name: "UploadedFile", Doc: "A multipart file (req.files).", Fields: map[string]script.Field{
		"name":    {Type: "string", Doc: "The file name."},
		"type":    {Type: "string", Doc: "Its Content-Type."},
		"size":    {Type: "integer", Doc: "Its size."},
		"content": {Type: "bytes", Doc: "Its content."},
	}},
}

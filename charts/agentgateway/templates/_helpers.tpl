{{- define "agentgateway.labels" -}}
app.kubernetes.io/name: agentgateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "agentgateway.selector" -}}
app.kubernetes.io/name: agentgateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}
{{- define "agentgateway.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The name the config stream's certificate is for, and that deployed proxies check: <release>.<namespace>.svc. */}}
{{- define "agentgateway.xdsServerName" -}}
{{ printf "%s.%s.svc" .Release.Name .Release.Namespace }}
{{- end -}}
{{- define "agentgateway.xdsTlsSecretName" -}}
{{ .Values.controller.xdsTls.secretName | default (printf "%s-xds-tls" .Release.Name) }}
{{- end -}}
{{/*
The config stream's TLS material the chart generates (controller.xdsTls.enabled, no secretName), as
JSON {crt, key, ca} of PEM: the installed release's Secret when lookup finds it (upgrades keep the
certificate), else a new self-signed CA and a server certificate it signs (10 years). helm template
and --dry-run=client have no cluster to look in: they generate new ones at each render. Memoized in
.Values for the render, so that the Secret, the CA ConfigMap and the controller's checksum agree.
*/}}
{{- define "agentgateway.xdsTlsGenerated" -}}
{{- if not (hasKey .Values "agwXdsTlsGenerated") -}}
{{- $data := dig "data" (dict) (lookup "v1" "Secret" .Release.Namespace (include "agentgateway.xdsTlsSecretName" .)) -}}
{{- $m := dict -}}
{{- if and (index $data "tls.crt") (index $data "tls.key") (index $data "ca.crt") -}}
{{- $m = dict "crt" (index $data "tls.crt" | b64dec) "key" (index $data "tls.key" | b64dec) "ca" (index $data "ca.crt" | b64dec) -}}
{{- else -}}
{{- $host := include "agentgateway.xdsServerName" . -}}
{{- $ca := genCA (printf "%s-xds-ca" .Release.Name) 3650 -}}
{{- $sans := list $host (printf "%s.cluster.local" $host) (printf "%s.%s" .Release.Name .Release.Namespace) .Release.Name -}}
{{- $cert := genSignedCert $host nil $sans 3650 $ca -}}
{{- $m = dict "crt" $cert.Cert "key" $cert.Key "ca" $ca.Cert -}}
{{- end -}}
{{- $_ := set .Values "agwXdsTlsGenerated" $m -}}
{{- end -}}
{{- toJson (get .Values "agwXdsTlsGenerated") -}}
{{- end -}}

{{/*
V8's old-space limit for a container with a memory limit in Mi or Gi: 60% of it, the rest left to
code, buffers and the young generation. Without it V8 sizes the heap from the node's memory and
grows it far past the live set: the controller at 10,000 routes held ~130 MiB live in ~440 MiB of
heap (bench/README.md), over this chart's 512Mi limit. Fractions count (1.5Gi: 921). Empty for
another unit, no limit, or under 16 MB.
*/}}
{{- define "agentgateway.maxOldSpaceFlag" -}}
{{- $m := toString (dig "limits" "memory" "" .) -}}
{{- $mib := 0.0 -}}
{{- if hasSuffix "Mi" $m -}}
{{- $mib = float64 (trimSuffix "Mi" $m) -}}
{{- else if hasSuffix "Gi" $m -}}
{{- $mib = mulf (float64 (trimSuffix "Gi" $m)) 1024 -}}
{{- end -}}
{{- $heap := int (floor (mulf $mib 0.6)) -}}
{{- if ge $heap 16 -}}
--max-old-space-size={{ $heap }}
{{- end -}}
{{- end -}}

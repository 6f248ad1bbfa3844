import QtQuick
import QtQuick.Controls

// Each repository's size over time: everything it holds (original, dashed) and what that
// takes on disk (stored). Data: HistoryModel's chartSeries, chartMax and chartTicks (the y
// axis' labels, in words by Kastell's units).
Canvas {
    id: chart
    property var series: []
    property real maximum: 0
    property var ticks: []
    readonly property var colors: ["#1e88e5", "#8e24aa", "#43a047", "#f4511e"]
    onSeriesChanged: requestPaint()
    onTicksChanged: requestPaint()
    onWidthChanged: requestPaint()
    onHeightChanged: requestPaint()
    Accessible.name: qsTr("Repository size over time")

    onPaint: {
        const ctx = getContext("2d")
        ctx.reset()
        const left = 70, right = 12, top = 24, bottom = 22
        const w = width - left - right, h = height - top - bottom
        let tMin = Infinity, tMax = -Infinity
        const yMax = maximum
        for (const s of series) for (const p of s.points) {
            tMin = Math.min(tMin, p[0]); tMax = Math.max(tMax, p[0])
        }
        ctx.fillStyle = palette.text
        ctx.font = "11px sans-serif"
        if (!isFinite(tMin) || yMax === 0) {
            ctx.fillText(qsTr("Sizes appear here after the first backup."), left, top + h / 2)
            return
        }
        if (tMax === tMin) { tMin -= 3600000; tMax += 3600000 }
        const x = t => left + (t - tMin) / (tMax - tMin) * w
        const y = v => top + h - v / yMax * h
        ctx.strokeStyle = Qt.rgba(0.5, 0.5, 0.5, 0.35)
        ctx.lineWidth = 1
        for (let i = 0; i <= 4; i++) {
            const v = yMax * i / 4
            ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(left + w, y(v)); ctx.stroke()
            ctx.fillText(ticks[i] || "", 4, y(v) + 4)
        }
        ctx.fillText(new Date(tMin).toLocaleString(Qt.locale(), Locale.ShortFormat), left, height - 4)
        const last = new Date(tMax).toLocaleString(Qt.locale(), Locale.ShortFormat)
        ctx.fillText(last, left + w - ctx.measureText(last).width, height - 4)
        let legendX = left
        series.forEach((s, i) => {
            const color = colors[i % colors.length]
            for (const [column, dashed] of [[1, true], [2, false]]) {
                ctx.strokeStyle = color
                ctx.fillStyle = color
                ctx.lineWidth = dashed ? 1.5 : 2.5
                ctx.setLineDash(dashed ? [5, 4] : [])
                ctx.beginPath()
                s.points.forEach((p, k) => k === 0 ? ctx.moveTo(x(p[0]), y(p[column])) : ctx.lineTo(x(p[0]), y(p[column])))
                ctx.stroke()
                for (const p of s.points) { ctx.beginPath(); ctx.arc(x(p[0]), y(p[column]), 2.5, 0, 2 * Math.PI); ctx.fill() }
            }
            ctx.setLineDash([])
            const label = s.repository + qsTr(": stored (solid), original (dashed)")
            ctx.fillText(label, legendX, 14)
            legendX += ctx.measureText(label).width + 24
        })
    }
}

"""PostgreSQL full-text search over our own analyzer's words: one index for every host.

Each published article's words (rjieba, folded, stop words dropped: analyzer.words) are kept
in `articles.search_vector`, weighted title A, keywords B, body C, category D, and written in
the same transaction as the article (sync calls write() before the commit), so every host
finds a change the moment its commit lands, with nothing to run on a new host.

A phrase is its words at consecutive positions (`'核酸' <-> '检测' <-> '结果'`). RUM keeps
each word's positions in the index, so it checks a phrase without reading the rows; GIN
rechecks the candidates' vectors. An adjacent pair of which one word is COMMON (the commonest
words of rjieba's dictionary, a fixed list) is also a lexeme, at its first word's position
(Lucene's CommonGrams), and a phrase asks for the pair where it can (_pieces): a phrase of a
common word then reads the pair's short posting list, not the word's. (Earlier the vectors held
every adjacent pair, as the Whoosh index does: nearly every pair is distinct, and the index came
out 4x larger and 9x slower to build, for 10k articles 422 MB and minutes, where the words alone
take seconds.)

Ranking is cover density (`ts_rank_cd`, PostgreSQL's default weights: title 1.0, keywords
0.4, body 0.2, category 0.1), ties newest first, then by higher id, over every match:
- with the RUM index, RUM's ordered scan (`ORDER BY search_vector <=> q`, RUM's own
  cover-density score) hands over the best matches first, and the tie-break is done on the
  few rows read (see _rum_top), so a common word costs the ten rows shown, not its 40,000
  matches. That holds only where the scan's order is provably `<=>`'s on the rows: one
  word, two, or an OR of words (see ordering_text); a query of three words or more is
  ordered by the OR of its words. RUM 1.3.13 returns `<->` matches in storage order, not
  by score, so the ordering query of a phrase is its pieces' AND or OR (the match query
  stays the phrase);
- with GIN (no RUM on the server), every match is ranked with ts_rank_cd and sorted, the
  same kind of score but not RUM's exact figures (the order of near-equal matches differs).
The count is a separate `count(*)` over the index's bitmap, exact, far cheaper than ranking,
sent in the same round trip (a page that holds every match is its own count).

A full rebuild (`flask reindex`) segments every article once, COPYs the vectors into a
temporary table and writes them with one UPDATE ... FROM, only where a vector changed; when
most of them change it drops the index and builds it again in that transaction (readers
wait for it: writing 10k vectors into a live RUM index took
358 s, against 108 s with the index built afterwards). Writers are held off only for that
last step, and articles saved while the vectors were computed are computed again then.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

import rjieba
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from ...content.models import Article
from ...extensions import db
from ...text import local_now, plain_text
from ..analyzer import _terms as _TERMS
from ..analyzer import fold, pair, term_info
from ..index import document
from ..query import ReaderQuery

# What a vector holds (words with positions, weighted per field; version 2 added adjacent
# pairs, 3 took them out again, 4 added the pairs of a common word): bump when that changes,
# so caches keyed by it (the bench's loaded clusters) are rebuilt.
VECTOR_VERSION = 4
FIELDS = (("title", "A"), ("tags", "B"), ("body", "C"), ("category", "D"))
# PostgreSQL keeps at most 256 positions per lexeme and numbers positions up to 16383.
MAX_POSITIONS = 256
MAX_POSITION = 16383
BATCH = 500
LIKE_TERMS = 12
LIVE = (Article.is_live,)

# The 2,000 commonest words of rjieba's dictionary (dict.txt's frequencies, as the analyzer
# folds them, stop words dropped): a pair of adjacent words is a lexeme of its own when one of
# them is here (Lucene's CommonGrams). Fixed, never the corpus's own counts, so a vector
# depends on its article alone.
_COMMON_WORDS = """
有 他 不 我 人 为 上 年 中 你 说 一 到 来 地 要 大 道 得 她 中国 个 后 去 将 但 月 下 时 只 多
可 能 好 会 自己 出 国家 日 由 里 用 所 已 给 发展 看 工作 使 前 新 想 却 它 最 见 起 主要 小 高
更 如 问题 再 才 便 进行 地方 没 走 做 让 内 这样 全国 经济 不是 听 公司 成 各 事 号 人民 至 叫
社会 两 知道 当 三 本 无 此 们 家 这种 长 市 门 起来 地区 开始 正 技术 同 重要 吃 美国 天 成为
比 米 外 通过 研究 文化 企业 即 分 北京 历史 世界 问 话 其中 现在 天安门 不能 打 老 时间 自 副
生产 情况 代表 决定 湖北 跟 笑 则 关系 像 领导 生活 时候 一种 可能 出来 学生 石首 较 一般 同时
认为 由于 国 死 省 住 万 不同 这里 学院 因 曾 两个 元 作为 手 会议 达 头 作 该 女 开 路 部分 约
活动 需要 军 管理 方面 市场 组织 工业 建设 称 名 二 每 属 形成 谁 受 其他 带 进 出现 许多 先 应
县 日本 之间 一定 心 具有 占 城市 人民代表大会 以上 处 区 太 政治 人们 委员会 发现 点 记者 国际
规定 机关 水 武汉 南 根据 法律 影响 包括 发生 使用 张 中心 教育 要求 今 间 总 回 山 请 者 政府
党 段 法 连 因此 人口 站 建立 第 共 参加 产品 武汉市 而且 另 生 一样 面积 各种 全 提出 行 我国
作用 皇帝 倒 快 必须 行政 派 编辑 职业 制度 以后 相 说道 世纪 应该 之一 经 按 之后 主席 找 口 均
系统 有关 组成 种 民族 基本 增长 字 自然 入 大学 真 拿 城 马 政体 各级 干 人员 计划 王 不会 产生
时期 据 最后 一次 表示 机构 当时 大家 特别 四 子 改革 书 长江 那么 这么 东西 能力 湖北省 革命 仍
一直 基础 难 还有 得到 进入 运动 目前 西 东 少 对于 过程 方法 次 些 举行 钱 北 群众 气 第一 近
杀 单位 清 如此 学 孩子 所有 资源 过去 不过 强 条件 写 学校 既 若 往 台 原 提高 工程 发 任 环境
美 未 提供 方式 百科 报告 杨 或者 下来 兵 军事 部门 分别 十分 上海 完成 一切 非 除 最大 边 位
农业 经过 专业 准备 增加 鱼 获得 旅游 明 设 一声 觉得 一起 理论 今天 非常 中央 州 直 比较 定
表现 越 身 价值 国务院 重 声 科技 五 完全 亿元 有些 存在 低 达到 内容 坐 儿 实行 思想 事情 极
实现 甚至 人民政府 任务 选举 形式 放 原来 金 有人 突然 不断 咱们 变化 红 心中 直接 朝 爱 知 主
战争 可是 不知 政策 不要 您 资本 继续 年代 期间 位于 报 任何 权力 类 执行 先生 解决 早 建筑 能够
自治区 虽 面 称为 结构 一点 别 成立 初 英国 社会主义 统一 先进 结果 投资 后来 一下 水平 保护
主任 性 关于 型 负责 制定 艺术 讲 部 利用 送 于是 远 反 学习 合作 科学 看到 指 乡 项目 不敢 襄阳
方 几个 那里 甚 公里 完 常 服务 意 队 精神 涓 人大 式 全省 当然 左 拉 个人 超过 花 电 重点 很多
原因 及其 公民 锛 希望 条 新闻 剑 神 动 设计 湖 相关 国内 分布 最高 部队 河 集团 白 信息 官 师
仅 采用 重大 教 哪 回来 变 图 范围 平 引起 实际 其实 不仅 取得 丰富 农民 整个 为主 了解 价格 府
热 制 望 岁 甚么 地位 紝 这时 转 建 命 劳动 按照 加 控制 目标 基地 农村 传统 管 场 受到 跑 全部
法国 穿 众 比赛 军队 黑 土地 规模 怕 荆州 风 眼睛 信 左右 选择 批准 置 急 身上 专家 分析 统治
加强 不到 石 铁路 黄 镇 百度 每年 取 告诉 支持 交通 光 明白 竟 处理 本级 作战 时代 力 皇上 实施
数 只要 曰 亲 传 深 成功 办法 随着 之中 进一步 心里 脸 终于 大量 买 人物 接 共同
全国人民代表大会 茶 下去 多少 来说 严重 词条 接受 收入 以来 城邦 声音 意见 办 过来 保持 今日 待
文 一条 发言人 另外 提 坚持 工人 系 汽车 而是 量 敌人 商品 忙 说话 改变 尽 先后 力量 喝 事业
开发 看见 战略 标准 是否 中华人民共和国 郡 车 出去 今年 报道 程度 国民党 平均 消息 还是 安全
独立 啦 刚 注意 机会 韦小宝 级 背 父亲 此外 这次 经验 采取 喜欢 根本 领域 具体 联系 几乎 离 故
干部 印度 言 如今 大会 海 不可 体 座 酒 兄弟 通 德国 满 阶段 李 令 飞 为什么 感到 流 无法 宪法
德 似乎 原则 真正 法规 斗争 足 瞧 人类 合 右 目的 造成 罢 一位 反对 儿子 相同 亦 以前 著名 众人
建议 迅速 全面 正是 明显 改 就是 刀 欧洲 破 作品 首先 集中 正式 朋友 龙 需 第二 召开 材料 帮助
飞机 宽 委员 行动 必 保证 现象 病 特点 随 现代 实际上 资料 须 毛泽东 同志 居 呈 行为 结束 直辖市
介绍 汉 只见 胜利 认识 群 算 战 眼 人数 姑娘 积极 安 家庭 靠 之前 更加 回答 藏 武器 那样 应用
市长 来到 落 设立 项 产业 公路 首 人才 意义 掌 台湾 街 容易 长期 铁 一句 物 大道 扩大 官员 调整
考虑 林 联合 并且 土 自由 菜 现 率 仍然 拥有 火 民主 专门 桥 附近 股 象 一天 师父 古 结合 跳
清楚 说明 某 稳定 古代 惊 搞 三个 药 冲 双 六 此时 情 物质 电话 网络 利益 然而 很大 鄂 掉 不少
中学 立 开放 调查 乱 周 几 人家 承 村 重新 广泛 分为 知识 别人 综合 出口 收 动物 速度 半 总理
脸上 用于 设备 女人 股东 作出 展开 措施 通常 电子 方向 导弹 小时 供 平民 行业 特色 货币 完善
地理 功能 香港 巨大 发表 性质 母亲 质量 九 命令 活 和平 监督 一年 敢 身体 余 获 兼 十 特 面前
武功 位置 体系 越来越 逐渐 指出 安排 权利 训练 船 考试 指挥 却是 顶 指导 发布 除了 从而 断 感觉
似 努力 毛 机场 业务 植物 同样 调 状态 人民代表大会常务委员会 吴 二人 形 线 银行 忽 书记 治疗 七
一阵 所谓 这位 反应 语言 久 忽然 史 当年 以下 找到 青年 宣布 恢复 离开 困难 辖 英 事件 卖 哪里
血 画 轻 实在 见到 装备 某些 皆 治 其它 问道 权 哭 万元 空 检察院 记 平原 经营 多年 往往 苏联 男
广场 八 解释 因素 队伍 教授 喜 论 医院 伤 架 归 怎样 男人 双方 退 减少 考生 当地 游 实 多种 差
经常 各地 姓 生物 平方千米 南京 海军 外交部 真是 朱 网 心想 外国 财产 皮 全市 刺 睡 本来 两种
有效 尤其 选 一边 用户 科 方案 进攻 常委会 机械 关 化 浜 参与 充分 骂 从事 尽管 特殊 又称 底
一块 手段 生命 銆 便是 体育 院 含 居民 洞 天安门广场 生长 内部 机 立即 简单 一片 全国人大常委会
数量 有时 开展 色 阿 装 文学 理 进来 决议 显示 属于 驻 也许 产 中国共产党 气候 一只 铺 来自 领
还要 相信 确定 投入 一面 普通 看着 块 公元 怎 去年 文章 封 手中 心理 谈 诸 觉 团 女儿 封建 图片
创造 肉 期 总统 岛 促进 大型 带来 代 短 旧 嘴 挂 留 教师 民 竟然 较大 看来 若干 反映 每个 每天
敌 食品 坐在 文明 京 相当 诗 变成 资金 放在 毫米 中间 夫人 愿 墓 相对 世 大陆 职权 西方 不再
第一次 举 殿 导致 帮 抓 换 件 对方 应当 人民法院 求 讨论 即使 脚 金融 爱国 证明 制造 构成 老师
担任 房 区域 一座 殑 院长 计算机 家里 错误 曾经 宫 云 食 错 牛 拜 保障 饭 推 天安门城楼 创作
强调 连续 状 运输 复 看看 句 分钟 主张 商业 高速 有限公司 真的 克 救 只能 天下 贸易 不得 境内 楼
体制 胜 因而 例如 具 财政 肯定 成绩 一件 音乐 建成 斗 回去 层 难道 接着 集 著 片 正确 现代化
石首市 奔 以为 章 处于 大臣 届 高度 复杂 社区 木 身子 回到 媒体 俄罗斯 怪 地面 分子 总是 意思 江
东北 销售 弟子 未来 重视 压力 抱 良好 到底 职 拍 各个 最终 战斗 交 航空 表 降 之下 田 营 修 一级
里面 数学 全国人民代表大会常务委员会 毕业 竞争 宗教 比例 考 健康 适应 员 她们 出版 银 故事 责任
欲 何 面对 将军 停 界 粮食 解 政权 草 各国 鐨 类型 发挥 听说 遗址 南北 立刻 亚洲 剉 正常 女子
培养 就业 紫 大小 刘 善 香 单 晚 秘书长 明确 优势 吨 亚 抢 弄 好像 一场 列 至少 人士 晚上 特征
确实 贡献 质 实验 铜 高级 想到 词 厂 暖 感 关键 凭 一眼 周围 难以 样子 本报 追 帝国主义 紧 题
自治州 臣 一张 油 相互 读 是不是 部长 球 守 俄 功 身边 广州 端 三年 之外 散 蒙古 义 公 发出 只有
比如 理解 刚才 不足 南部 攻 程序 陈 加上 礼 西北 父母 一中 适当 青 留下 李自成 研制 省级 发达
东部 全国人大 引 品种 愿意 道路 投 类似 空军 行使 目 细胞 树 寺 空间 形势 西部 小说 妇女 股份
维护 公布 岗 名称 只好 检查 墙 化学 任期 儿童 矛盾 颇 本身 规划 状况 一家 实践 尚 成长 凡 需求
邦 根 分配 多次 末 一致 西南 一时 既然 贵族 高兴 全体 枪 美元 统计 事务 体现 运 值 名字 不了
产量 始终 最近 长安 英雄 港 从此 同意 一步 响 海拔 掌握 普遍 宜昌 招生 攻击 天然 不错 势 亲自 鬼
一旦 相应 观点 实力 中部 批 听到 再次 更是 包 突出 全球 条例 人大代表 替 司 公元前 卷 经历 进步
上述 抗日 旁 绝对 修改 夏 优秀 至于 河流 发动 招 武 审议 计算 数据 冒 关注 族 女性 职工 贴 硬
资本主义 必要 朝廷 利 不肯 表明 坛 委员长 主持 常常 冷 遇到 在于 玉 腿 答 消费 欢迎 保 想起 日子
条约 协议 公开 行政区划 限制 现实 武昌 强烈 照 早已 的话 衣服 假 板 太阳 御 河南 广大 易 正在
胖子 很快 态度 贼 不好 交流 万吨 前面 森林 显然 妈 有所 闯王 一部分 撤销 度 千米 破坏 双手 江南
阅读 上面 宋 工资 专 熟 纷纷 计 北部 忘 种类 赴 无论 深入 推进 石油 进去 射 地上 效果 团体 倘若
年轻 核心 电影 纺织 形象 页 果然 意识 常务 乃 垸 显得 规律 巴 平等 咱 支 山东 厚 加工 只是
洪山区 烧 两侧 列为 加入 大部分 解放 新华社 微 逐步 虎 担心 下降 电视 表面 布 节 工具 第三 网站
升 制作 设施 天津 成果 各项 依 预算 苦 绝 寡头 紧张 手机 翻 令狐冲 一系列 势力 记载 外交 逃 搜狐
众多 唐 一把 春 年底 文物 宣传 闻 奇 略 日常 检察长 一名 甲 高中 严格 令人 不管 领导人 满足 推动
楚 下午 喊 地下 昨天 随后 认真 大声 生于 成员 明代 创新 不久 遭到 培训 持续 份 班 数字 广 怒
游客 试验 孙 绣 阶级 似的 发射 文字 天门 版 坏 组 来看 叶 城楼 轮 公园 哥 空中 软件 习惯 事实
地球 决 浠 一半 压 刚刚 手里 弹 武装 不但 显 任免 张居正 不想 语 室 意大利 距离 永远 业 年间 摸
互相 人大常委会 庙 稍 素 一段 妻子 妈妈 扑 眼前 赶 元年 对象 迎 听见 四个 变得 彻底 宝 毕竟 快速
朝鲜 失败 临时 果 贵 一批 炒 利润 多数 那时 路线 闹 抬 其余 雨 齐 划分 唯一 坦克 尚书 骑 概念
来源 盐 充满 降低 卒 四大 慢慢 星 老人 哩 符合 发布会 客 小姐 摆 哲学 借 折 负 轻轻 北平 老板 击
这件 戴 同学 校名 细 山地 美军 呆 那种 奉 办公室 率领 录取 观 唱 华 矿产 当下 毒 别的 泥 味 咨询
小龙 几天 伸手 五年 各自 自身 渐 判断 哥哥 始 横 失去 危机 后面 亮 配合 大事 增强 套 兴 卫生
金属 成本 文件 加以 步 仙 雪 丈夫 倍 必然 财富 首都 此后 购买 汗 东南 公共 医生 素质 打击 改善
"""
COMMON = frozenset(_COMMON_WORDS.split())

_MATCH = "search_vector @@ CAST(:q AS tsquery)"
# Article.is_live, written out for the text statements below (one definition, in models.py).
_LIVE_SQL = str(
    Article.is_live.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
)
_NEWEST = "published_at DESC, id DESC"
_WHERE = f"{_LIVE_SQL} AND {_MATCH}"
# Rows read from RUM's ordered scan beyond twice the page: spares a second round trip when
# scores tie at the page's end (exactness does not depend on it, see _rum_top).
RUM_MARGIN = 20
# GIN's ranking: cover density with the default weights, the closest PostgreSQL has to RUM's
# <=> (the same idea, not the same figures: measured, their ratio varies within a query).
_RANK = "ts_rank_cd(search_vector, CAST(:r AS tsquery))"
_DISTANCE = "search_vector <=> CAST(:r AS tsquery)"
INDEX = "ix_articles_search_vector"
# Articles saved this long before a rebuild's vectors were computed are computed again at
# the end (updated_at has whole seconds).
CATCH_UP_MARGIN = timedelta(seconds=2)
# A rebuild that changes more than this share of the vectors builds the index anew.
REINDEX_SHARE = 0.2


def _lexeme(word: str) -> str:
    if "'" not in word and "\\" not in word:
        return f"'{word}'"
    escaped = word.replace("\\", "\\\\").replace("'", "''")
    return f"'{escaped}'"


def vector_text(doc: dict) -> str:
    """The tsvector literal of an index document (index.document): every word, with its
    positions and its field's weight, and each adjacent pair holding a COMMON word, at its
    first word's position. (Written for speed: this is most of a rebuild.)"""
    fields: list[tuple[str, dict[str, list[int]]]] = []
    position = 1
    common = COMMON
    for field, weight in FIELDS:
        positions: dict[str, list[int]] = {}
        found = _words(doc.get(field) or "")
        for at, word in enumerate(found, position):
            seen = positions.get(word)
            if seen is None:
                positions[word] = [at]
            else:
                seen.append(at)
        for at, (first, second) in enumerate(zip(found, found[1:], strict=False), position):
            if first in common or second in common:
                key = pair(first, second)
                seen = positions.get(key)
                if seen is None:
                    positions[key] = [at]
                else:
                    seen.append(at)
        fields.append((weight, positions))
        position += len(found) + 1  # no phrase across two fields
    merged: dict[str, list[str]] = {}
    for weight, positions in fields:
        for word, at in positions.items():
            if position > MAX_POSITION:
                at = [min(p, MAX_POSITION) for p in at]
            merged.setdefault(word, []).extend([f"{p}{weight}" for p in at])
    return " ".join(
        f"{_lexeme(word)}:{','.join(at[:MAX_POSITIONS])}" for word, at in merged.items()
    )


def _words(value: str) -> list[str]:
    """analyzer.words(value): each word of the folded text, lowercased, stop words dropped,
    without a token object (or even a tuple) per word."""
    if not value:
        return []
    memo, missing, out = _TERMS, _TERMS, []
    append = out.append
    for piece, _start, _end in rjieba.tokenize(fold(value), mode="search"):
        found = memo.get(piece, missing)
        if found is missing:
            found = term_info(piece)
        if found is not None and not found[1]:
            append(found[0])
    return out


def tsquery_text(query: ReaderQuery, follow: str = " <-> ") -> str:
    """The tsquery of a reader's query: an AND of groups, each an OR of clauses; a clause of
    several words is its pieces (_pieces), each at its distance after the one before
    (`follow`: " & " gives the AND of the pieces)."""
    groups = []
    for group in query.groups:
        clauses = []
        for clause in group:
            found = _pieces(clause)
            if len(found) == 1:
                clauses.append(_lexeme(found[0][0]))
                continue
            text = _lexeme(found[0][0])
            for (_, before), (word, at) in zip(found, found[1:], strict=False):
                gap = " <-> " if at - before == 1 else f" <{at - before}> "
                text += (gap if follow == " <-> " else follow) + _lexeme(word)
            clauses.append("(" + text + ")")
        groups.append("(" + " | ".join(clauses) + ")")
    return " & ".join(groups)


def _pieces(clause) -> list[tuple[str, int]]:
    """(lexeme, position) of what a clause's phrase must hold: its words (_phrase), two
    neighbours taken as their pair lexeme where one of them is COMMON. The pair stands at
    its first word's position exactly where both words stand side by side in a field, so the
    phrase is the same, with a short posting list in place of a common word's long one, and
    fewer lexemes to order by (two for most phrases of three words: see ordering_text)."""
    found = _phrase(clause)
    pieces, at = [], 0
    while at < len(found):
        word, place = found[at]
        if at + 1 < len(found):
            after, next_place = found[at + 1]
            if next_place == place + 1 and (word in COMMON or after in COMMON):
                pieces.append((pair(word, after), place))
                at += 2
                continue
        pieces.append((word, place))
        at += 1
    return pieces


def ordering_text(query: ReaderQuery) -> str:
    """The query RUM's `<=>` ranks by: one for which RUM's ordered scan is provably in the
    order of `<=>` computed on the rows (see _rum_top).

    RUM scores a row twice, with the same cover-density code (rum_ts_utils.c,
    calc_score_docr) on the same positions, but it groups repeated covers by a "quick and
    dirty hash" of pointers (new_cover_key, shifted and summed over the cover's entries),
    and the pointers differ: in the index (rum_tsquery_distance, calc_score_addinfo) the
    query's items, 12 bytes apart in the query's prefix layout; on a row (rum_ts_distance_tt,
    calc_score) arrays palloc'd one per lexeme. A cover seen as a repeat on one side
    (divided by 2², 3², ...) can be a new one on the other, so for three words the scan's
    order is not the rows' (measured: '农村 企业 科技', covers 企业 农村 科技 and 农村 科技 企业,
    hash 4·4+2·1+3 = 4·3+2·4+1 in the index, apart on the row). Two cases cannot collide:
    - at most two distinct lexemes, all ANDed: every cover is two entries of different
      lexemes (Cover() stops at the first entry completing the query, then walks back to
      the nearest entry completing it again), hashed 2a+b or 2b+a, never equal;
    - an OR of lexemes: every cover is one entry, hashed by its own lexeme's pointer.
    Then both sides group alike, the sums are the same double, the same float4 score, and
    the index's float8 1/score and the row's float4 1/score are both monotone in it. Any
    other query (three lexemes or more, phrases in an OR) is ordered by the OR of its
    lexemes: each word's weighted occurrences, without cover density's closeness of the
    words (which a phrase's match already asks for), but in an order RUM keeps. Ranking such
    queries on the rows instead kept cover density but cost 31 ms for 1,339 matches at 10k."""
    clauses = [[[word for word, _ in _pieces(c)] for c in group] for group in query.groups]
    distinct = list(dict.fromkeys(w for group in clauses for words in group for w in words))
    if all(len(group) == 1 for group in clauses) and len(distinct) <= 2:
        return " & ".join(_lexeme(w) for w in distinct)
    return " | ".join(_lexeme(w) for w in distinct)


def _phrase(clause) -> list[tuple[str, int]]:
    """(word, position) of the words a clause's phrase must hold, positions counted as the
    vectors count them. Search mode puts a long word's parts just before the word itself
    (社区工作人员: 社区 工作 作人 人员 工作人员), always the same parts for the same word, so
    the word alone stands for them: 社区 then 工作人员 four places on is the same phrase,
    with two posting lists to intersect instead of five."""
    words = clause.words
    if len(words) < 3:
        return [(word, at) for at, word in enumerate(words)]
    from ..analyzer import ChineseTokenizer

    spans = [(t.text, t.startchar, t.endchar) for t in ChineseTokenizer()(clause.text, chars=True)]
    if tuple(word for word, _, _ in spans) != tuple(words):
        return [(word, at) for at, word in enumerate(words)]  # not the words parsed: as they are
    kept = []
    for at, (word, start, end) in enumerate(spans):
        covered = any(
            s <= start and end <= e and (s, e) != (start, end) for _, s, e in spans[at + 1 :]
        )
        if not covered:
            kept.append((word, at))
    return kept


def _live(session: Session, ids: Iterable[int]) -> list[Article]:
    ordered = sorted(set(ids))
    found: list[Article] = []
    for start in range(0, len(ordered), BATCH):
        query = (
            select(Article)
            .options(selectinload(Article.tags))
            .where(Article.id.in_(ordered[start : start + BATCH]), *LIVE)
        )
        found.extend(session.scalars(query))
    return found


def write(session: Session, ids: set[int]) -> None:
    """Bring the vectors of these articles in line with the session's state, in its
    transaction: published articles get their words, every other id none."""
    if not ids:
        return
    live = _live(session, ids)
    rows = [{"id": a.id, "v": vector_text(document(a))} for a in live]
    if rows:
        session.execute(
            text("UPDATE articles SET search_vector = CAST(:v AS tsvector) WHERE id = :id"), rows
        )
    gone = sorted(ids - {a.id for a in live})
    if gone:
        session.execute(
            text("UPDATE articles SET search_vector = NULL WHERE id = ANY(:ids)"), {"ids": gone}
        )


def _literal(value) -> str:
    """A value written into SQL: an integer, or an E'' string (backslashes and quotes
    escaped, whatever standard_conforming_strings says)."""
    if isinstance(value, int):
        return str(value)
    return "E'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


_PARAM = re.compile(r"(?<!:):(\w+)")


def _select(statements: list[str], params: dict) -> list[list[tuple]]:
    """The rows of each SELECT, all sent in one round trip, with seq scans off around them.

    One round trip: on a busy two-core host each one cost a few milliseconds, more than the
    statements themselves. Seq scans off: the planner prices `search_vector @@ q` on a row
    as cheap, but every vector is TOASTed (kilobytes), and a seq scan for a word in half the
    articles took 1.4 s at 10k against 1.5 ms through the index's bitmap. The parameters are
    written in as literals (the simple query protocol takes no parameters)."""
    bound = [_PARAM.sub(lambda m: _literal(params[m.group(1)]), sql) for sql in statements]
    sql = "; ".join(["SET LOCAL enable_seqscan = off", *bound, "SET LOCAL enable_seqscan = on"])
    results: list[list[tuple]] = []
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        while True:
            if cursor.description is not None:
                results.append(cursor.fetchall())
            if not cursor.nextset():
                break
    finally:
        cursor.close()
    return results


def rum_sql(where: str, fetch: int) -> str:
    """The statement reading RUM's ordered scan: (id, published_at, distance), best first."""
    return (
        f"SELECT id, published_at, {_DISTANCE} AS d FROM articles WHERE {where} "
        f"ORDER BY {_DISTANCE} LIMIT {int(fetch)}"
    )


def index_kind(connection) -> str | None:
    """ "rum", "gin" or None: the access method of the search vector's index."""
    return connection.scalar(
        text(
            "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
            "WHERE c.relname = :name AND c.relkind = 'i'"
        ),
        {"name": INDEX},
    )


class PostgresBackend:
    name = "postgres"

    def __init__(self) -> None:
        self._kinds: dict[str, str | None] = {}

    def kind(self) -> str | None:
        """The index's kind on this app's database, read once per process."""
        key = str(db.engine.url)
        if key not in self._kinds:
            with db.engine.connect() as connection:
                self._kinds[key] = index_kind(connection)
        return self._kinds[key]

    def search(self, query: ReaderQuery, limit: int, by_date: bool) -> tuple[list[int], int]:
        params = {"q": tsquery_text(query), "r": ordering_text(query)}
        count = f"SELECT count(*) FROM articles WHERE {_WHERE}"
        if by_date:
            (ids,), total = self._top(f"ORDER BY {_NEWEST}", params, limit, also=[count])
        elif self.kind() == "rum":
            ids, total = self._rum_top(params, limit, also=[count])
        else:
            (ids,), total = self._top(f"ORDER BY {_RANK} DESC, {_NEWEST}", params, limit, [count])
        return ids, total

    @staticmethod
    def _top(order: str, params: dict, limit: int, also=(), where: str = _WHERE):
        """([ids], count) of the first `limit` matches in this order; the count only when
        asked for (`also`) and needed: when the page holds every match, it is their number."""
        sql = f"SELECT id FROM articles WHERE {where} {order} LIMIT {int(limit)}"
        found = _select([sql, *also], params)
        ids = [row[0] for row in found[0]]
        total = len(ids) if len(ids) < limit or not also else found[1][0][0]
        return (ids,), total

    @staticmethod
    def _rum_top(params: dict, limit: int, also=(), where: str = _WHERE):
        """(ids, count) of the `limit` best matches read from RUM's ordered scan, ties newest
        first, then by higher id; the count as in _top. For an ordering query from
        ordering_text() (or an OR of words): `<=>` on the rows never decreases along the scan.

        PostgreSQL 15 puts no incremental sort on an index's ordering operator (given the
        tie-break, the planner ranks every match instead), so the tie-break is done here:
        the rows read are sorted by (distance, date, id), and the scan is read further while
        its last row still scores as well as the page's last. Exact by the monotonicity
        alone: a row not read scores no better than the last row read, which scores worse
        than the page's last. The margin only saves a second round trip on ties."""
        fetch = 2 * limit + RUM_MARGIN
        while True:
            sql = rum_sql(where, fetch)
            # Sorts off for this statement: a phrase's ordering query is not its match query,
            # and the planner, expecting few matches, ranked them all in a sort (43 ms for
            # 1,339 matches at 10k) instead of reading RUM's order.
            sorts_off = ["SET LOCAL enable_sort = off", sql, "SET LOCAL enable_sort = on"]
            found = _select([*sorts_off, *also], params)
            rows = found[0]
            exhausted = len(rows) < fetch
            ranked = sorted(rows, key=lambda row: (row[2], -row[1].timestamp(), -row[0]))
            if exhausted or limit == 0 or rows[-1][2] > ranked[limit - 1][2]:
                break
            fetch *= 4
        total = len(rows) if exhausted or not also else found[1][0][0]
        return [row[0] for row in ranked[:limit]], total

    def every_score(self, query: ReaderQuery) -> list[tuple[float, int]]:
        """(score, id) of every match, higher is better, each computed from its row alone
        (no index order, no limit): the reference the tests compare pages with."""
        score = f"-({_DISTANCE})" if self.kind() == "rum" else _RANK
        params = {"q": tsquery_text(query), "r": ordering_text(query)}
        sql = f"SELECT {score}, id FROM articles WHERE {_WHERE}"
        return [(value, ident) for value, ident in db.session.execute(text(sql), params)]

    def similar(self, article, limit: int) -> list[int]:
        """Articles sharing this one's commonest words (title words count double)."""
        counts = Counter(w for w in _words(plain_text(article.body)) if len(w) > 1)
        counts.update({w: 2 for w in _words(article.title or "") if len(w) > 1})
        top = [word for word, _ in counts.most_common(LIKE_TERMS)]
        if not top:
            return []
        # An OR of distinct words: RUM's ordered scan is exact for it (ordering_text).
        q = " | ".join(_lexeme(word) for word in top)
        params = {"q": q, "r": q, "own": article.id}
        where = f"{_WHERE} AND id <> :own"
        if self.kind() == "rum":
            return self._rum_top(params, limit, where=where)[0]
        return self._top(f"ORDER BY {_RANK} DESC, {_NEWEST}", params, limit, where=where)[0][0]

    def rebuild(self, progress=None, procs: int | None = 1) -> int:
        """Every published article's vector computed again and written where it changed;
        every other article's cleared. procs is ignored (one connection does the writing).
        See the module's docstring for the steps."""
        with db.engine.connect() as connection:
            count = _Rebuild(connection, progress).run()
            connection.commit()
        self._kinds.clear()
        return count

    def status(self) -> dict:
        try:
            with db.engine.connect() as connection:
                documents = connection.scalar(
                    select(func.count())
                    .select_from(Article)
                    .where(text("search_vector IS NOT NULL"))
                )
        except DBAPIError:
            return {"status": "missing", "message": "搜索索引尚未建立。"}
        return {"status": "ok", "generation": "postgres", "documents": int(documents or 0)}


class _Rebuild:
    """One full rebuild on one connection, in one transaction (see the module's docstring)."""

    def __init__(self, connection, progress) -> None:
        self.connection, self.progress = connection, progress
        self.session = Session(bind=connection)

    def run(self) -> int:
        connection = self.connection
        connection.execute(
            text(
                "CREATE TEMP TABLE search_rebuild (id integer PRIMARY KEY, v tsvector) "
                "ON COMMIT DROP"
            )
        )
        since = local_now() - CATCH_UP_MARGIN
        total = self.session.scalar(select(func.count(Article.id)).where(*LIVE)) or 0
        done, last = 0, 0
        while True:
            batch = list(
                self.session.scalars(
                    select(Article.id)
                    .where(*LIVE, Article.id > last)
                    .order_by(Article.id)
                    .limit(BATCH)
                )
            )
            if not batch:
                break
            self._stage(batch)
            done, last = done + len(batch), batch[-1]
            if self.progress:
                self.progress(min(done, total), total)
        if self.progress and not done:
            self.progress(0, 0)
        # Writers wait from here to the commit (readers do not): what they saved while the
        # vectors were computed is computed again, then every vector is written at once.
        connection.execute(text("LOCK TABLE articles IN SHARE ROW EXCLUSIVE MODE"))
        changed = list(self.session.scalars(select(Article.id).where(Article.updated_at >= since)))
        if changed:
            connection.execute(
                text("DELETE FROM search_rebuild WHERE id = ANY(:ids)"), {"ids": changed}
            )
            self._stage(changed)
        connection.execute(
            text(
                "UPDATE articles SET search_vector = NULL "
                f"WHERE search_vector IS NOT NULL AND NOT ({_LIVE_SQL})"
            )
        )
        stale = connection.scalar(
            text(
                "SELECT count(*) FROM search_rebuild s JOIN articles a USING (id) "
                "WHERE a.search_vector IS DISTINCT FROM s.v"
            )
        )
        definition = connection.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": INDEX}
        )
        rebuild_index = definition is not None and stale > REINDEX_SHARE * max(total, 1)
        if rebuild_index:
            connection.execute(text(f"DROP INDEX {INDEX}"))
        connection.execute(
            text(
                "UPDATE articles a SET search_vector = s.v FROM search_rebuild s "
                "WHERE a.id = s.id AND a.search_vector IS DISTINCT FROM s.v"
            )
        )
        if rebuild_index:
            connection.execute(text(definition))
        # Raw UPDATEs move no revision by themselves, and stored search pages are named by the
        # page cache's stamp alone on PostgreSQL (web/search_pages): move it in this commit.
        from ...web.page_cache import ARTICLES_REVISION, new_revision

        new_revision(self.session, ARTICLES_REVISION)
        self.session.flush()
        return connection.scalar(text("SELECT count(*) FROM search_rebuild"))

    def _stage(self, ids: list[int]) -> None:
        """The vectors of these articles (the live ones), copied into the temporary table."""
        live = _live(self.session, ids)
        buffer = io.StringIO()
        for article in live:
            vector = vector_text(document(article))
            buffer.write(f"{article.id}\t{_copy_escape(vector)}\n")
        self.session.expunge_all()
        cursor = self.connection.connection.dbapi_connection.cursor()
        with cursor.copy("COPY search_rebuild (id, v) FROM STDIN") as copy:
            copy.write(buffer.getvalue())


def _copy_escape(value: str) -> str:
    """A value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )
